"""Course-style loop implementations that the checker tests grade.

``dlai_loops`` and ``cs231n_loops`` are correct loop versions written the way
the course solutions are; every other module imports one of them and
replaces one function with a typical bug, so that a test can show the
checker catches that bug and names that function (and only that one).
"""
