// The corpus replayer: the main of every fuzz target's ordinary build (fuzz/CMakeLists.txt), so
// the normal test suite runs each target's LLVMFuzzerTestOneInput over its seeds and regression
// inputs without libFuzzer. Arguments are files or directories (read recursively, in sorted
// order); each file is one input. Exit status: 0 when every input ran, 1 when an argument cannot
// be read or holds no input (an empty corpus would make the test pass without testing anything).
// A crash or a sanitizer report (in the fuzz build) ends the process with its own status.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

bool Collect(const std::filesystem::path& arg, std::vector<std::filesystem::path>* files) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(arg, ec)) {
    files->push_back(arg);
    return true;
  }
  if (!std::filesystem::is_directory(arg, ec)) {
    std::fprintf(stderr, "replay: %s: not a file or directory\n", arg.c_str());
    return false;
  }
  std::vector<std::filesystem::path> found;
  for (std::filesystem::recursive_directory_iterator it(arg, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->is_regular_file(ec)) found.push_back(it->path());
  }
  if (ec) {
    std::fprintf(stderr, "replay: %s: %s\n", arg.c_str(), ec.message().c_str());
    return false;
  }
  std::sort(found.begin(), found.end());
  files->insert(files->end(), found.begin(), found.end());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    if (!Collect(argv[i], &files)) return 1;
  }
  if (files.empty()) {
    std::fprintf(stderr, "replay: no input files in the arguments\n");
    return 1;
  }
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      std::fprintf(stderr, "replay: cannot read %s\n", f.c_str());
      return 1;
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()), data.size());
  }
  std::printf("replay: %zu inputs ran\n", files.size());
  return 0;
}
