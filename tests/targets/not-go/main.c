// A long-running C program with DWARF: a non-Go target that Delve would still attach to.
#include <unistd.h>

int main(void) {
  for (;;) pause();
}
