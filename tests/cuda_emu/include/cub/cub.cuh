#pragma once
#include "cub/block/block_scan.cuh"
#include "cub/device/device_radix_sort.cuh"
