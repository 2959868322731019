// Character-level text for the sequence models (Graves 2013, gan/char_rnn.cpp): a corpus by
// name, its fixed split, its vocabulary, and the batches of truncated backpropagation through
// time.
//
// Corpora:
//   kjv   the King James Bible, as printed by the `bible` program of Debian's bible-kjv
//         package (bible -l0 Gen1:1-Rev22:21): one verse per line, verse numbers and chapter
//         headings dropped; 31,102 verses, 4,137,850 bytes, 63 distinct characters. $DUEL_KJV_TEXT names a
//         text file to read instead (the tests' tiny corpus).
//   PATH  any other name containing '/' or a '.' is read as a text file (bytes; no NULs).
//
// Split, fixed by position as in Graves's Wikipedia experiment (his last 4% held out): the
// first 90% of the bytes train, the next 5% validate, the last 5% test. The vocabulary is the
// sorted set of bytes of the whole corpus, so held-out text has no unknown symbol.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace duel {

inline constexpr const char* kKjvTextEnv = "DUEL_KJV_TEXT";

struct TextCorpus {
  std::string name;
  std::string text;                    // the whole corpus
  std::vector<uint8_t> vocab;          // the distinct bytes, sorted; a symbol's id is its index
  std::array<int16_t, 256> ids{};      // byte -> id, -1 where the byte does not occur
  int64_t train_end = 0, val_end = 0;  // train [0, train_end), val [train_end, val_end), test [val_end, size)
  uint64_t hash = 0;                   // FNV-1a 64 of `text` (docs/results.md records the corpus's)

  int64_t size() const { return (int64_t)text.size(); }
  int64_t vocab_size() const { return (int64_t)vocab.size(); }
  // The ids of split "train", "val" or "test", int64 [n].
  Tensor split(const std::string& which) const;
  // ids (int64, any shape, read in order) -> bytes; throws on an id outside the vocabulary.
  std::string decode(const Tensor& ids) const;
  // bytes -> ids int64 [n]; throws naming the first byte outside the vocabulary.
  Tensor encode(const std::string& s) const;
};

// Loads a corpus by name (see above). Throws duel::Error naming the corpus and what is missing
// or wrong: no `bible` program (the error names the Debian package), an unreadable or empty
// file, NUL bytes, fewer than 100 bytes (too short to split).
TextCorpus load_text_corpus(const std::string& name);
// The corpus from text already in memory (what load_text_corpus does after reading).
TextCorpus make_text_corpus(const std::string& name, std::string text);
// FNV-1a 64-bit hash of bytes.
uint64_t fnv1a64(const std::string& s);

// Batches for truncated backpropagation through time over one split: the ids are cut into B
// parallel streams of equal length (B = the batch size; with N data-parallel ranks, N * B
// streams and rank r takes streams r * B ... r * B + B - 1), and batch k holds characters
// [k T, k T + T) of every stream as the input and the next character of each as the target,
// so consecutive batches continue each other and a model carries its state across them. An
// epoch ends when a stream has fewer than T + 1 characters left; the next starts again at the
// beginning (new_epoch() tells the model to reset its state).
class TextStream {
 public:
  TextStream(Tensor ids, int64_t batch, int64_t bptt, const std::string& what);
  // x, y int64 [T, B]: inputs and targets (y[t] = the character after x[t]).
  std::pair<Tensor, Tensor> next();
  // True when the batch that next() returned last began an epoch.
  bool new_epoch() const { return position == 1; }
  int64_t batches_per_epoch() const { return per_epoch_; }

  // The position, for checkpoints (a model registers both; next() checks their range).
  int64_t position = 0;  // batches taken in the current epoch, 0 .. batches_per_epoch()
  int64_t epoch = 0;     // epochs completed

 private:
  std::vector<int64_t> ids_;
  std::string what_;
  int64_t batch_, bptt_, first_stream_, stream_len_, per_epoch_;
};

}  // namespace duel
