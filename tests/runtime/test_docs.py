"""The docs follow the code: the README's configuration reference is exactly
what `ird check --reference` prints from the key table the loader uses."""

import os
import unittest

from irdtest import SOURCE_DIR, run_ird


class DocsTest(unittest.TestCase):
    def test_readme_reference_is_the_key_table(self):
        code, ref, _ = run_ird("check", "--reference")
        self.assertEqual(code, 0)
        with open(os.path.join(SOURCE_DIR, "README.md"), encoding="utf-8") as f:
            readme = f.read()
        self.assertIn(ref, readme, "README.md's configuration table differs from "
                                   "`ird check --reference`: paste its output in")

    def test_every_command_is_in_the_readme(self):
        code, out, _ = run_ird("--help")
        self.assertEqual(code, 0)
        with open(os.path.join(SOURCE_DIR, "README.md"), encoding="utf-8") as f:
            readme = f.read()
        commands = [line.split()[0] for line in out.splitlines()
                    if line.startswith("  ") and line.strip()]
        self.assertGreater(len(commands), 8)
        for c in commands:
            self.assertIn("`ird %s" % c, readme, "command %s is not documented" % c)


if __name__ == "__main__":
    unittest.main()
