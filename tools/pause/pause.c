// The pod sandbox's PID 1 for scripts/cluster's nodes (image kdbg.local/pause, built statically by
// scripts/cluster). It holds the pod's namespaces: waits for signals, exits 0 on SIGINT/SIGTERM
// (so a pod deletion does not wait out the kill timeout, unlike `sleep` as PID 1, which ignores
// SIGTERM), and reaps children reparented to it.
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_term(int sig) { _exit(sig == SIGINT || sig == SIGTERM ? 0 : 1); }

static void on_child(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void) {
  struct sigaction term = {.sa_handler = on_term};
  struct sigaction child = {.sa_handler = on_child, .sa_flags = SA_NOCLDSTOP | SA_RESTART};
  if (getpid() != 1) fprintf(stderr, "pause: warning: not PID 1\n");
  if (sigaction(SIGINT, &term, NULL) < 0 || sigaction(SIGTERM, &term, NULL) < 0 ||
      sigaction(SIGCHLD, &child, NULL) < 0) {
    perror("pause: sigaction");
    return 1;
  }
  for (;;) pause();
}
