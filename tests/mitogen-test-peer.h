/* Handles served by mitogen-test-peer, shared with the tests that drive it. */
#pragma once

enum {
  PEER_ECHO = 200,        /* replies with the message's own body */
  PEER_SINK = 201,        /* counts body bytes; an empty body asks for the total */
  PEER_EXIT = 202,        /* _exit() at once, with the uint32 code given */
  PEER_SPOOF = 203,       /* sends (u handle) to the master with a forged src_id,
                             then the same message honestly */
  PEER_NEVER_REPLY = 204, /* keeps the message and never replies */
  PEER_SEND_TO = 205,     /* (uu) dst_id, handle: sends there with a reply_to and
                             forwards what comes back, or the error, as a string */
  PEER_GARBAGE = 206,     /* writes bytes with a bad magic to its parent */
  PEER_OVERSIZE = 207,    /* writes a header announcing a 1 GiB body */
  PEER_PRINT = 208,       /* writes the string given to stderr */
  PEER_FLOOD = 230,       /* (uubu) count, handle, forged, then: sends count
                             messages to the master's handle, with a forged
                             src_id if forged, then one honest to then */
};
