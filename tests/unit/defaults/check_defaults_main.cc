// kdbg_check_defaults FILE.yaml...: CheckDeployDefaults over rendered YAML (deploy-test.sh
// defaults runs it on the chart rendered with its default values). Exit 1 with one line per
// problem, 0 with "OK ..." when everything agrees.
#include <fstream>
#include <iostream>
#include <sstream>

#include "tests/unit/defaults/deploy_defaults.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: kdbg_check_defaults FILE.yaml...\n";
    return 2;
  }
  std::vector<std::string> texts;
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i]);
    if (!in) {
      std::cerr << "cannot read " << argv[i] << "\n";
      return 2;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    texts.push_back(ss.str());
  }
  std::vector<std::string> problems = kdbg::deploycheck::CheckDeployDefaults(texts);
  for (const std::string& p : problems) std::cerr << "FAIL " << p << "\n";
  if (!problems.empty()) return 1;
  std::cout << "OK the install agrees with the binaries' defaults (common/defaults.h)\n";
  return 0;
}
