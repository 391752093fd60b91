// Include this instead of <catch2/catch.hpp> in tests that use LibTorch.
//
// Debian's LibTorch is built with glog, whose CHECK macro (abort on failure)
// would silently replace Catch2's CHECK (record and continue). LibTorch comes
// first, glog's CHECK is dropped, then Catch2 defines its own.
#ifndef CONVRNN_TESTS_TORCH_CATCH_H_
#define CONVRNN_TESTS_TORCH_CATCH_H_

// A suite must include this header before anything that brings in Catch2
// (tests/test_support.h does): keep it in an include block of its own, first,
// so that include sorting cannot move it.
#ifdef TWOBLUECUBES_SINGLE_INCLUDE_CATCH_HPP_INCLUDED
#error "include tests/torch_catch.h before Catch2 (and before tests/test_support.h)"
#endif

#include <torch/torch.h>
#undef CHECK
#include <catch2/catch.hpp>

#endif  // CONVRNN_TESTS_TORCH_CATCH_H_
