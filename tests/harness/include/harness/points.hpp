/// \file
/// \brief Points for graded tests.
#pragma once

#include <gtest/gtest.h>

/// Declares how many points the current test is worth (default 1). Call it first in the test.
#define FORKLAB_POINTS(n) ::testing::Test::RecordProperty("points", (n))
