// CAF's deterministic test scheduler (caf/test/dsl.hpp) reads its command line from CAF's own test
// engine. GoogleTest runs the tests, so the engine is compiled in without its main().
#define CAF_TEST_NO_MAIN
#include <caf/test/unit_test_impl.hpp>
