//! Unit tests of the compiler against the interpreter.
