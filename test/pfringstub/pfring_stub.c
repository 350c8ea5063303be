/*
 * pfring_stub.c: a stand-in libpfring for compile checks (see README.md).
 *
 * Every call fails the way libpfring fails on a host where pf_ring.ko is not
 * loaded (but for the test rings below): pfring_open() cannot create its PF_RING socket and returns NULL
 * with errno EAFNOSUPPORT. The other calls can only be reached with a ring
 * that pfring_open() never returns; they fail too, and the void ones do
 * nothing. Nothing here captures or sends a packet.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include "pfring.h"

static int fail(void) {
  errno = EAFNOSUPPORT;
  return PF_RING_ERROR_NOT_SUPPORTED;
}

/*
 * Test rings, for the datapath's own reading code (probe's pfring tests):
 * the devices "icmplab-stub-ns" and "icmplab-stub-ts" open a ring that
 * delivers STUB_FRAMES zero-filled frames, stamped only in the extended
 * header's timestamp_ns (as the kernel module does) or only in ts (as the
 * pcap: module does), then reports that no packet is waiting. Every other
 * device fails as without pf_ring.ko. Nothing is ever captured.
 */
#define STUB_FRAMES 3
struct __pfring { int ns; int left; };
static struct __pfring stub_ring;
static u_char stub_frame[64];

pfring *pfring_open(const char *device_name, u_int32_t caplen, u_int32_t flags) {
  (void)caplen; (void)flags;
  if (strcmp(device_name, "icmplab-stub-ns") == 0 || strcmp(device_name, "icmplab-stub-ts") == 0) {
    stub_ring.ns = device_name[13] == 'n';
    stub_ring.left = STUB_FRAMES;
    errno = 0;
    return &stub_ring;
  }
  errno = EAFNOSUPPORT; /* socket(PF_RING, ...) without pf_ring.ko */
  return NULL;
}

void pfring_close(pfring *ring) { (void)ring; }
void pfring_shutdown(pfring *ring) { (void)ring; }
void pfring_breakloop(pfring *ring) { (void)ring; }
void pfring_config(u_short cpu_percentage) { (void)cpu_percentage; }

int pfring_stats(pfring *ring, pfring_stat *stats) { (void)ring; (void)stats; return fail(); }

int pfring_recv(pfring *ring, u_char **buffer, u_int buffer_len,
                struct pfring_pkthdr *hdr, u_int8_t wait_for_incoming_packet) {
  (void)buffer_len; (void)wait_for_incoming_packet;
  if (ring == &stub_ring) {
    if (stub_ring.left == 0) return 0;
    stub_ring.left--;
    memset(hdr, 0, sizeof *hdr);
    *buffer = stub_frame;
    hdr->caplen = hdr->len = sizeof stub_frame;
    if (stub_ring.ns) {
      hdr->extended_hdr.timestamp_ns = 1700000000123456789ULL;
    } else {
      hdr->ts.tv_sec = 1700000000;
      hdr->ts.tv_usec = 123456;
    }
    return 1;
  }
  errno = EAFNOSUPPORT;
  return PF_RING_ERROR_GENERIC;
}

int pfring_set_poll_watermark(pfring *ring, u_int16_t watermark) { (void)ring; (void)watermark; return fail(); }
int pfring_set_poll_duration(pfring *ring, u_int duration) { (void)ring; (void)duration; return fail(); }
int pfring_set_application_name(pfring *ring, char *name) { (void)ring; (void)name; return fail(); }
int pfring_send(pfring *ring, char *pkt, u_int pkt_len, u_int8_t flush_packet) {
  (void)ring; (void)pkt; (void)pkt_len; (void)flush_packet;
  return fail();
}
int pfring_set_sampling_rate(pfring *ring, u_int32_t rate) { (void)ring; (void)rate; return fail(); }
int pfring_set_direction(pfring *ring, packet_direction direction) { (void)ring; (void)direction; return fail(); }
int pfring_set_socket_mode(pfring *ring, socket_mode mode) { (void)ring; (void)mode; return fail(); }
int pfring_set_cluster(pfring *ring, u_int clusterId, cluster_type the_type) {
  (void)ring; (void)clusterId; (void)the_type;
  return fail();
}
int pfring_remove_from_cluster(pfring *ring) { (void)ring; return fail(); }
int pfring_enable_ring(pfring *ring) { (void)ring; return fail(); }
int pfring_disable_ring(pfring *ring) { (void)ring; return fail(); }
int pfring_set_bpf_filter(pfring *ring, char *filter_buffer) { (void)ring; (void)filter_buffer; return fail(); }
int pfring_remove_bpf_filter(pfring *ring) { (void)ring; return fail(); }
