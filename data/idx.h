// IDX files (the MNIST / Fashion-MNIST container format) and the Fashion-MNIST loader.
//
// An IDX file is: two zero bytes, a dtype code (0x08 = unsigned byte), the number of
// dimensions, the dimensions as big-endian uint32, then the row-major payload. Files may be
// gzip-compressed (read transparently through zlib). Only unsigned-byte files are supported;
// every problem (missing file, bad magic, other dtype code, truncated data, dims that do not
// match the payload, images/labels count mismatch) throws duel::Error naming the file.
//
// duel has no uint8 dtype, so the raw bytes come back as an IdxArray (dims + bytes) and are
// converted to a float32/int64 tensor on request.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace duel {

struct IdxArray {
  Shape dims;                 // e.g. {10000, 28, 28} or {10000}
  std::vector<uint8_t> data;  // row-major, shape_numel(dims) bytes
  // The values as a tensor of `dtype` (float32, float64 or int64), no scaling.
  Tensor to_tensor(DType dtype = kFloat32) const;
};

// Reads a (possibly gzip-compressed) IDX file of unsigned bytes.
IdxArray read_idx(const std::string& path);
// read_idx(path).to_tensor(dtype).
Tensor read_idx_tensor(const std::string& path, DType dtype = kFloat32);
// Writes an unsigned-byte IDX file (gzip-compressed when `gzip`); used by tests and tools.
void write_idx(const std::string& path, const Shape& dims, const std::vector<uint8_t>& data, bool gzip = false);

// An in-memory image classification data set.
struct ImageDataset {
  Tensor images;  // float32 [N, 1, 28, 28]: in [-1, 1] when normalized, else raw 0..255
  Tensor labels;  // int64 [N], class ids 0..9
  int64_t size() const { return images.defined() ? images.size(0) : 0; }
};

// Default Fashion-MNIST location (Debian package dataset-fashion-mnist).
inline constexpr const char* kFashionMnistDefaultDir = "/usr/share/datasets/fashion-mnist";
// Environment variable that overrides the default directory.
inline constexpr const char* kFashionMnistDirEnv = "DUEL_FASHION_MNIST_DIR";

// The directory load_fashion_mnist reads: `dir` if non-empty, else $DUEL_FASHION_MNIST_DIR if
// set and non-empty, else kFashionMnistDefaultDir.
std::string fashion_mnist_dir(const std::string& dir = "");

// Loads split "train" (60000 images) or "test" (10000; "t10k" is accepted too) from
// <dir>/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]. normalize: x / 127.5 - 1 in float32.
// limit >= 0 keeps only the first `limit` samples.
ImageDataset load_fashion_mnist(const std::string& split = "train", const std::string& dir = "",
                                bool normalize = true, int64_t limit = -1);

// "T-shirt/top", "Trouser", ..., "Ankle boot" (index = label).
const std::vector<std::string>& fashion_mnist_classes();

}  // namespace duel
