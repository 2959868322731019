// Text corpora and truncated-BPTT batches (data/text.h).
#include "data/text.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "dist/dist.h"

namespace duel {
namespace {

constexpr const char* kKjvCommand = "bible -l0 Gen1:1-Rev22:21";
constexpr uint64_t kKjvHash = 0xca234ace6589dc01ULL;  // the verses of bible-kjv 4.38

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && ::access((dir + "/" + program).c_str(), X_OK) == 0) return true;
  return false;
}

std::string read_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  DUEL_CHECK(in.good(), what, ": cannot open '", path, "'");
  std::ostringstream s;
  s << in.rdbuf();
  DUEL_CHECK(!in.bad(), what, ": error reading '", path, "'");
  return s.str();
}

// The verses of `bible -l0`'s output: lines "  <verse> <text>" (indented) become "<text>\n";
// the chapter headings ("Genesis 1", "1 Kings 3": not indented) and blank lines are dropped.
std::string kjv_verses(const std::string& printed) {
  std::string out;
  out.reserve(printed.size());
  std::istringstream lines(printed);
  for (std::string line; std::getline(lines, line);) {
    size_t i = line.find_first_not_of(' ');
    if (i == std::string::npos || i == 0 || line[i] < '0' || line[i] > '9') continue;  // "1 Kings 3" is a heading
    size_t j = line.find_first_not_of("0123456789", i);
    if (j == std::string::npos || line[j] != ' ') continue;
    out.append(line, j + 1, std::string::npos);
    out.push_back('\n');
  }
  return out;
}

std::string load_kjv() {
  if (const char* f = std::getenv(kKjvTextEnv); f && *f)
    return read_file(f, std::string("text corpus 'kjv' ($") + kKjvTextEnv + ")");
  DUEL_CHECK(on_path("bible"),
             "text corpus 'kjv': needs the `bible` program of Debian's bible-kjv package "
             "(apt-get install bible-kjv), or $",
             kKjvTextEnv, " naming a text file");
  FILE* p = ::popen(kKjvCommand, "r");
  DUEL_CHECK(p != nullptr, "text corpus 'kjv': cannot run `", kKjvCommand, "`");
  std::string printed;
  char buf[1 << 16];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) printed.append(buf, n);
  const int rc = ::pclose(p);
  DUEL_CHECK(rc == 0, "text corpus 'kjv': `", kKjvCommand, "` failed (status ", rc, ")");
  std::string text = kjv_verses(printed);
  DUEL_CHECK(text.size() > 1000000, "text corpus 'kjv': `", kKjvCommand, "` printed only ", text.size(),
             " bytes of verses (expected about 4.1 million); is bible-kjv-text installed?");
  return text;
}

}  // namespace

uint64_t fnv1a64(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

TextCorpus make_text_corpus(const std::string& name, std::string text) {
  const std::string what = "text corpus '" + name + "'";
  DUEL_CHECK(text.size() >= 100, what, ": ", text.size(),
             " bytes; need at least 100 to split into train, validation and test");
  const size_t nul = text.find('\0');
  DUEL_CHECK(nul == std::string::npos, what, ": a NUL byte at offset ", nul, " (not a text file?)");
  TextCorpus c;
  c.name = name;
  c.text = std::move(text);
  std::array<bool, 256> seen{};
  for (unsigned char ch : c.text) seen[ch] = true;
  c.ids.fill(-1);
  for (int b = 0; b < 256; ++b)
    if (seen[b]) {
      c.ids[b] = (int16_t)c.vocab.size();
      c.vocab.push_back((uint8_t)b);
    }
  c.train_end = c.size() * 90 / 100;
  c.val_end = c.size() * 95 / 100;
  c.hash = fnv1a64(c.text);
  return c;
}

TextCorpus load_text_corpus(const std::string& name) {
  if (name == "kjv") {
    const bool from_env = std::getenv(kKjvTextEnv) && *std::getenv(kKjvTextEnv);
    TextCorpus c = make_text_corpus(name, load_kjv());
    if (!from_env && c.hash != kKjvHash)
      std::fprintf(stderr,
                   "warning: text corpus 'kjv': `%s` printed a different text (%lld bytes, FNV-1a %016llx) from "
                   "the one docs/results.md was measured on (4137850 bytes, %016llx, bible-kjv 4.38)\n",
                   kKjvCommand, (long long)c.size(), (unsigned long long)c.hash, (unsigned long long)kKjvHash);
    return c;
  }
  DUEL_CHECK(name.find('/') != std::string::npos || name.find('.') != std::string::npos, "text corpus '", name,
             "': unknown; expected kjv or the path of a text file");
  return make_text_corpus(name, read_file(name, "text corpus '" + name + "'"));
}

Tensor TextCorpus::split(const std::string& which) const {
  int64_t lo = 0, hi = 0;
  if (which == "train")
    lo = 0, hi = train_end;
  else if (which == "val")
    lo = train_end, hi = val_end;
  else if (which == "test")
    lo = val_end, hi = size();
  else
    DUEL_CHECK(false, "TextCorpus::split: expected train, val or test, got '", which, "'");
  std::vector<int64_t> v(hi - lo);
  for (int64_t i = lo; i < hi; ++i) v[i - lo] = ids[(unsigned char)text[i]];
  return from_vector(v, {hi - lo}, TensorOptions(kInt64));
}

std::string TextCorpus::decode(const Tensor& t) const {
  DUEL_CHECK(t.dtype() == kInt64, "TextCorpus::decode: expected int64 ids, got ", dtype_name(t.dtype()));
  std::string s;
  for (int64_t id : t.to(kCPU).contiguous().to_vector<int64_t>()) {
    DUEL_CHECK(id >= 0 && id < vocab_size(), "TextCorpus::decode: id ", id, " outside the vocabulary of ",
               vocab_size());
    s.push_back((char)vocab[id]);
  }
  return s;
}

Tensor TextCorpus::encode(const std::string& s) const {
  std::vector<int64_t> v(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const int16_t id = ids[(unsigned char)s[i]];
    DUEL_CHECK(id >= 0, "text corpus '", name, "': the character with code ", (int)(unsigned char)s[i], " at offset ",
               i, " of the prompt does not occur in the corpus");
    v[i] = id;
  }
  return from_vector(v, {(int64_t)s.size()}, TensorOptions(kInt64));
}

TextStream::TextStream(Tensor ids, int64_t batch, int64_t bptt, const std::string& what)
    : what_(what), batch_(batch), bptt_(bptt) {
  DUEL_CHECK(ids.dtype() == kInt64 && ids.dim() == 1, what, ": expected int64 ids [n], got ", dtype_name(ids.dtype()),
             " ", shape_str(ids.sizes()));
  DUEL_CHECK(batch >= 1 && bptt >= 1, what, ": batch and bptt must be positive, got ", batch, " and ", bptt);
  ids_ = ids.to(kCPU).contiguous().to_vector<int64_t>();
  const int64_t ranks = dist::world_size(), streams = batch * ranks;
  first_stream_ = batch * dist::rank();
  stream_len_ = ((int64_t)ids_.size() - 1) / streams;
  per_epoch_ = stream_len_ / bptt;
  DUEL_CHECK(per_epoch_ >= 1, what, ": ", ids_.size(), " characters are too few for ", streams, " streams of ", bptt,
             " + 1 characters (batch ", batch, ranks > 1 ? " per rank" : "", ", bptt ", bptt, ")");
}

std::pair<Tensor, Tensor> TextStream::next() {
  DUEL_CHECK(position >= 0 && position <= per_epoch_ && epoch >= 0, what_, ": position ", position, " of epoch ", epoch,
             " is outside 0..", per_epoch_);
  if (position == per_epoch_) position = 0, ++epoch;
  std::vector<int64_t> x(bptt_ * batch_), y(bptt_ * batch_);
  for (int64_t b = 0; b < batch_; ++b) {
    const int64_t base = (first_stream_ + b) * stream_len_ + position * bptt_;
    for (int64_t t = 0; t < bptt_; ++t) {
      x[t * batch_ + b] = ids_[base + t];
      y[t * batch_ + b] = ids_[base + t + 1];
    }
  }
  ++position;
  return {from_vector(x, {bptt_, batch_}, TensorOptions(kInt64)),
          from_vector(y, {bptt_, batch_}, TensorOptions(kInt64))};
}

}  // namespace duel
