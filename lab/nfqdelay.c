// The lab's delay where the kernel has no netem qdisc: packets that iptables sends to
// NFQUEUE wait here for a delay (plus a uniform jitter) before their ACCEPT verdict. Packets
// leave in arrival order (FIFO, as netem behind a rate limit): jitter spreads the delay
// without reordering. One process per network namespace, for its own queue:
//   nfqdelay QUEUE DELAY_MS JITTER_MS SEED
// Runs until SIGTERM or SIGINT; prints "ready" on stdout once the queue is bound.
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <libnfnetlink/libnfnetlink.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#define HELD_MAX 65536  // packets waiting at once; the queue's own limit is the same

struct held {
  uint32_t id;
  int64_t due_ns;
};

static struct held held[HELD_MAX];
static unsigned head, count;
static int64_t delay_ns, jitter_ns, last_due_ns;
static uint64_t rng_state;
static unsigned long passed, dropped, overruns;
static volatile sig_atomic_t stopping;

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static double uniform(void) {  // splitmix64, in [0, 1)
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

static int on_packet(struct nfq_q_handle* q, struct nfgenmsg* msg, struct nfq_data* nfa, void* data) {
  (void)msg, (void)data;
  const struct nfqnl_msg_packet_hdr* ph = nfq_get_msg_packet_hdr(nfa);
  if (ph == NULL) return 0;
  const uint32_t id = ntohl(ph->packet_id);
  if (count == HELD_MAX) {  // cannot happen with the queue's own limit; dropped if it did
    ++dropped;
    return nfq_set_verdict(q, id, NF_DROP, 0, NULL);
  }
  int64_t due = now_ns() + delay_ns + (int64_t)((2 * uniform() - 1) * (double)jitter_ns);
  if (due < last_due_ns) due = last_due_ns;  // FIFO
  last_due_ns = due;
  held[(head + count++) % HELD_MAX] = (struct held){id, due};
  return 0;
}

static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: nfqdelay QUEUE DELAY_MS JITTER_MS SEED\n");
    return 2;
  }
  const unsigned queue = (unsigned)strtoul(argv[1], NULL, 10);
  delay_ns = (int64_t)(strtod(argv[2], NULL) * 1e6);
  jitter_ns = (int64_t)(strtod(argv[3], NULL) * 1e6);
  rng_state = strtoull(argv[4], NULL, 10);
  if (jitter_ns > delay_ns) jitter_ns = delay_ns;

  struct nfq_handle* h = nfq_open();
  if (h == NULL) {
    perror("nfqdelay: nfq_open");
    return 1;
  }
  struct nfq_q_handle* q = nfq_create_queue(h, (uint16_t)queue, on_packet, NULL);
  // Fail open: a full queue lets packets through rather than dropping them unseen.
  if (q == NULL || nfq_set_mode(q, NFQNL_COPY_META, 0) < 0 || nfq_set_queue_maxlen(q, HELD_MAX) < 0 ||
      nfq_set_queue_flags(q, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN) < 0) {
    perror("nfqdelay: queue");
    return 1;
  }
  nfnl_rcvbufsiz(nfq_nfnlh(h), 16u << 20);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  printf("ready\n");
  fflush(stdout);

  const int fd = nfq_fd(h);
  char buf[65536];
  while (!stopping) {
    const int64_t now = now_ns();
    while (count > 0 && held[head].due_ns <= now) {
      nfq_set_verdict(q, held[head].id, NF_ACCEPT, 0, NULL);
      head = (head + 1) % HELD_MAX;
      --count;
      ++passed;
    }
    int timeout_ms = 100;
    if (count > 0) timeout_ms = (int)((held[head].due_ns - now + 999999) / 1000000);
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) > 0) {
      const ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        nfq_handle_packet(h, buf, (int)n);
      } else if (n < 0 && errno == ENOBUFS) {
        ++overruns;  // messages lost to a full socket buffer: counted (fail-open below)
      }
    }
  }
  while (count > 0) {  // what is held goes out undelayed
    nfq_set_verdict(q, held[head].id, NF_ACCEPT, 0, NULL);
    head = (head + 1) % HELD_MAX;
    --count;
  }
  nfq_destroy_queue(q);
  nfq_close(h);
  fprintf(stderr, "nfqdelay: %lu passed, %lu dropped, %lu overruns\n", passed, dropped, overruns);
  return 0;
}
