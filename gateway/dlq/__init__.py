"""Dead letters: what failed for good, with why, where from and the original bytes, so an
operator can inspect it and replay it after a fix (DESIGN.md section 5)."""
