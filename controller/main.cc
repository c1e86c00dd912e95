// kdbg-controller: authenticates kdbg users, authorizes them, routes them to the agent of their
// pod's node and relays the session. Flags: `kdbg-controller --help`; design: docs/controller.md.
#include "controller/serve.h"

int main(int argc, char** argv) { return kdbg::controller::ServeMain(argc, argv); }
