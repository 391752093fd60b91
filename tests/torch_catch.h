// Include this instead of <catch2/catch.hpp> in tests that use LibTorch.
//
// Debian's LibTorch is built with glog, whose CHECK macro (abort on failure)
// would silently replace Catch2's CHECK (record and continue). LibTorch comes
// first, glog's CHECK is dropped, then Catch2 defines its own.
#ifndef CONVRNN_TESTS_TORCH_CATCH_H_
#define CONVRNN_TESTS_TORCH_CATCH_H_

#include <torch/torch.h>
#undef CHECK
#include <catch2/catch.hpp>

#endif  // CONVRNN_TESTS_TORCH_CATCH_H_
