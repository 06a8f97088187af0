/* mitogen-id-allocator.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-id-allocator.h"

#include "mitogen-errors.h"
#include "mitogen-receiver.h"
#include "mitogen-router-private.h"

/* Ids a context asks the master for at a time: enough that starting
 * children rarely waits for a round trip, few enough that the ids a dead
 * context never used are no loss out of 2^32. */
#define ID_BLOCK_SIZE 128
/* The most ids granted by one ALLOCATE_ID, whatever is asked. */
#define ID_BLOCK_MAX 4096
/* The default quota: 131072 blocks per direct child's subtree, so that no
 * one child can take the id space (2^32) for itself while a tree of that
 * many contexts still gets its ids. */
#define ID_QUOTA_DEFAULT (1u << 24)
/* How long a context waits for the master to answer ALLOCATE_ID. */
#define ALLOCATE_ID_TIMEOUT (30 * G_USEC_PER_SEC)
/* Separate ranges one branch may own (adjacent ones merge): a branch
 * asking for one id at a time between others' requests cannot make the
 * table grow past 512 KiB. */
#define MAX_RANGES_PER_BRANCH 65536
/* ALLOCATE_ID requests passed up and not answered yet, in all and per
 * branch: one branch's flood must not crowd out the others' requests. */
#define MAX_PENDING 1024
#define MAX_PENDING_PER_BRANCH 64

/**
 * MitogenIdAllocator:
 *
 * Hands out the ids of new contexts, unique in the whole tree, and
 * remembers which branch of the tree each id went to, so that the router
 * lets a child announce (`ADD_ROUTE`) only the contexts it may have
 * started.
 *
 * The master counts ids out and grants ranges of them to the contexts
 * that ask (`ALLOCATE_ID`); any other context takes its ids from ranges
 * granted to it. A branch is a direct child of this context together with
 * everything behind it, known by the child's id: in the master it owns
 * the ranges granted to requests that came by the child's stream; in an
 * intermediate context, the ranges in the `ALLOCATE_ID` replies it passed
 * down that stream, matched to the requests it passed up.
 */

typedef struct
{
  guint32 start;
  guint32 end; /* exclusive */
} Range;

typedef struct
{
  guint32 granted; /* ids granted to it, for the quota (master only) */
  guint n_pending; /* its requests passed up, not answered yet */
  GArray *ranges;  /* Range, sorted, neither overlapping nor adjacent */
} Branch;

struct _MitogenIdAllocator
{
  GObject parent_instance;

  MitogenRouter *router; /* unowned: the router owns us */
  GMutex lock;
  guint32 next_id;    /* the master's next */
  guint32 range_next; /* elsewhere: [range_next, range_end) left */
  guint32 range_end;
  guint32 quota;
  GHashTable *branches; /* direct child id -> Branch* */
  GHashTable *pending;  /* (src_id << 32 | reply_to) -> branch id */
  GMutex requesting;    /* held while asking the master for a range */
};

G_DEFINE_FINAL_TYPE (MitogenIdAllocator, mitogen_id_allocator, G_TYPE_OBJECT)

static void
branch_free (gpointer data)
{
  Branch *b = data;

  g_array_unref (b->ranges);
  g_free (b);
}

static gboolean
is_master (MitogenIdAllocator *self)
{
  gsize n_parents;

  mitogen_router_get_parent_ids (self->router, &n_parents);
  return n_parents == 0;
}

static Branch *
branch_locked (MitogenIdAllocator *self, guint32 branch_id)
{
  Branch *b
      = g_hash_table_lookup (self->branches, GUINT_TO_POINTER (branch_id));

  if (!b)
    {
      b = g_new0 (Branch, 1);
      b->ranges = g_array_new (FALSE, FALSE, sizeof (Range));
      g_hash_table_insert (self->branches, GUINT_TO_POINTER (branch_id), b);
    }
  return b;
}

/* The index of the first range of @b that ends after @id. */
static guint
range_index (Branch *b, guint32 id)
{
  guint lo = 0, hi = b->ranges->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (g_array_index (b->ranges, Range, mid).end <= id)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

/* Records [start, start + count) as @b's, merged with its neighbours.
 * Ids are never granted twice, so ranges never overlap. */
static gboolean
add_range (Branch *b, guint32 start, guint32 count)
{
  Range r = { start, start + count };
  guint i = range_index (b, start);
  Range *prev = i > 0 ? &g_array_index (b->ranges, Range, i - 1) : NULL;
  Range *next
      = i < b->ranges->len ? &g_array_index (b->ranges, Range, i) : NULL;

  if (next && next->start < r.end)
    return FALSE;
  if (prev && prev->end == r.start)
    {
      prev->end = r.end;
      if (next && next->start == r.end)
        {
          prev->end = next->end;
          g_array_remove_index (b->ranges, i);
        }
      return TRUE;
    }
  if (next && next->start == r.end)
    {
      next->start = r.start;
      return TRUE;
    }
  if (b->ranges->len >= MAX_RANGES_PER_BRANCH)
    return FALSE;
  g_array_insert_val (b->ranges, i, r);
  return TRUE;
}

static gboolean
valid_range (guint32 start, guint32 count)
{
  return start != 0 && count != 0 && count <= ID_BLOCK_MAX
         && count <= MITOGEN_CONTEXT_ID_NONE - start;
}

/* In the master: takes @count fresh ids. Ids run from 1 (0 is the master)
 * to below %MITOGEN_CONTEXT_ID_NONE, and are never handed out twice. */
static gboolean
take_ids_locked (MitogenIdAllocator *self,
                 guint32 count,
                 guint32 *start,
                 GError **error)
{
  if (count == 0 || count > MITOGEN_CONTEXT_ID_NONE - self->next_id)
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_FAILED,
                   "Context %u has no context ids left to hand out",
                   mitogen_router_get_context_id (self->router));
      return FALSE;
    }
  *start = self->next_id;
  self->next_id += count;
  return TRUE;
}

/* Asks the master for a range of ids and keeps it; returns the first.
 * Called with self->requesting held, not self->lock. */
static guint32
request_range (MitogenIdAllocator *self,
               GCancellable *cancellable,
               GError **error)
{
  g_autoptr (MitogenReceiver) recv
      = mitogen_receiver_new (self->router, 0, FALSE, 0, NULL);
  g_autoptr (MitogenMessage) msg
      = mitogen_message_new (0, MITOGEN_HANDLE_ALLOCATE_ID,
                             g_variant_new ("(u)", (guint32) ID_BLOCK_SIZE));
  g_autoptr (MitogenMessage) reply = NULL;
  g_autoptr (GVariant) body = NULL;
  guint32 context_id = mitogen_router_get_context_id (self->router);
  guint32 start, count;

  mitogen_message_set_reply_to (msg, mitogen_receiver_get_handle (recv));
  mitogen_router_route (self->router, msg);
  /* A master that is gone answers at once: the dead route, or the parent
   * stream's disconnection, wakes the receiver. The timeout is for one
   * that is there but silent. */
  reply = mitogen_receiver_get (recv, ALLOCATE_ID_TIMEOUT, cancellable, error);
  body = reply ? mitogen_message_get_data (reply, error) : NULL;
  if (!body)
    {
      if (error && !*error)
        g_set_error_literal (error, MITOGEN_STREAM_ERROR,
                             MITOGEN_STREAM_ERROR_PROTOCOL,
                             "The master sent an empty ALLOCATE_ID reply");
      g_prefix_error (error,
                      "Context %u cannot get context ids from the "
                      "master: ",
                      context_id);
      return MITOGEN_CONTEXT_ID_NONE;
    }
  if (!g_variant_is_of_type (body, G_VARIANT_TYPE ("(uu)")))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_PROTOCOL,
                   "The master answered ALLOCATE_ID with a %s, not (uu)",
                   g_variant_get_type_string (body));
      return MITOGEN_CONTEXT_ID_NONE;
    }
  g_variant_get (body, "(uu)", &start, &count);
  if (!valid_range (start, count))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_PROTOCOL,
                   "The master answered ALLOCATE_ID with an impossible range "
                   "(%u, %u)",
                   start, count);
      return MITOGEN_CONTEXT_ID_NONE;
    }

  g_mutex_lock (&self->lock);
  self->range_next = start + 1;
  self->range_end = start + count;
  g_mutex_unlock (&self->lock);
  return start;
}

static guint32
take_from_range (MitogenIdAllocator *self)
{
  guint32 id = MITOGEN_CONTEXT_ID_NONE;

  g_mutex_lock (&self->lock);
  if (self->range_next < self->range_end)
    id = self->range_next++;
  g_mutex_unlock (&self->lock);
  return id;
}

/* See mitogen_router_allocate_id_full(). */
guint32
mitogen_id_allocator_allocate (MitogenIdAllocator *self,
                               GCancellable *cancellable,
                               GError **error)
{
  MitogenBroker *broker = mitogen_router_get_broker (self->router);
  guint32 id = MITOGEN_CONTEXT_ID_NONE;

  if (is_master (self))
    {
      g_mutex_lock (&self->lock);
      if (!take_ids_locked (self, 1, &id, error))
        id = MITOGEN_CONTEXT_ID_NONE;
      g_mutex_unlock (&self->lock);
      return id;
    }
  id = take_from_range (self);
  if (id != MITOGEN_CONTEXT_ID_NONE)
    return id;

  /* The reply is read by the broker thread: waiting there would wait for
   * ever. */
  if (broker && mitogen_broker_is_broker_thread (broker))
    {
      g_set_error (error, MITOGEN_TIMEOUT_ERROR,
                   MITOGEN_TIMEOUT_ERROR_WOULD_BLOCK,
                   "Context %u has no context ids left and cannot ask the "
                   "master for more on the broker thread",
                   mitogen_router_get_context_id (self->router));
      return MITOGEN_CONTEXT_ID_NONE;
    }

  /* One request at a time: threads that queue here mostly find the range
   * refilled by the one before. */
  g_mutex_lock (&self->requesting);
  id = take_from_range (self);
  if (id == MITOGEN_CONTEXT_ID_NONE)
    id = request_range (self, cancellable, error);
  g_mutex_unlock (&self->requesting);
  return id;
}

guint32
mitogen_id_allocator_get_quota (MitogenIdAllocator *self)
{
  guint32 quota;

  g_mutex_lock (&self->lock);
  quota = self->quota;
  g_mutex_unlock (&self->lock);
  return quota;
}

void
mitogen_id_allocator_set_quota (MitogenIdAllocator *self, guint32 quota)
{
  g_mutex_lock (&self->lock);
  self->quota = quota;
  g_mutex_unlock (&self->lock);
}

/* How many ids an ALLOCATE_ID asks for; %FALSE with @reason if it is not
 * a request. */
static gboolean
parse_request (MitogenMessage *msg, guint32 *count, gchar **reason)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) body = mitogen_message_get_data (msg, &error);

  *count = ID_BLOCK_SIZE;
  if (error || (body && !g_variant_is_of_type (body, G_VARIANT_TYPE ("(u)"))))
    {
      *reason = g_strdup_printf ("ALLOCATE_ID takes (u), the number of ids "
                                 "wanted, not %s",
                                 body ? g_variant_get_type_string (body)
                                      : error->message);
      return FALSE;
    }
  if (body)
    g_variant_get (body, "(u)", count);
  if (*count == 0)
    {
      *reason = g_strdup ("ALLOCATE_ID asked for no ids");
      return FALSE;
    }
  *count = MIN (*count, ID_BLOCK_MAX);
  return TRUE;
}

/* In the master: grants @branch_id up to @count ids, what is left of its
 * quota if less, and records them as the branch's. */
static gboolean
grant_locked (MitogenIdAllocator *self,
              guint32 branch_id,
              guint32 *count,
              guint32 *start,
              gchar **reason)
{
  g_autoptr (GError) error = NULL;
  Branch *b = branch_locked (self, branch_id);

  *count = MIN (*count, self->quota - MIN (b->granted, self->quota));
  if (*count == 0)
    {
      *reason = g_strdup_printf ("The contexts behind context %u have had "
                                 "their quota of %u context ids",
                                 branch_id, self->quota);
      return FALSE;
    }
  if (b->ranges->len >= MAX_RANGES_PER_BRANCH
      && g_array_index (b->ranges, Range, b->ranges->len - 1).end
             != self->next_id)
    {
      *reason = g_strdup_printf ("The contexts behind context %u hold too many "
                                 "separate ranges of context ids",
                                 branch_id);
      return FALSE;
    }
  if (!take_ids_locked (self, *count, start, &error))
    {
      *reason = g_strdup (error->message);
      return FALSE;
    }
  b->granted += *count;
  add_range (b, *start, *count);
  return TRUE;
}

/* The master's answer to ALLOCATE_ID from a context behind @branch_id,
 * the direct child it came through. */
void
mitogen_id_allocator_answer_request (MitogenIdAllocator *self,
                                     MitogenMessage *msg,
                                     guint32 branch_id)
{
  g_autoptr (MitogenMessage) reply = NULL;
  g_autofree gchar *reason = NULL;
  guint32 src_id = mitogen_message_get_src_id (msg);
  guint32 count, start = 0;
  gboolean granted;

  if (mitogen_message_is_dead (msg))
    return;
  if (mitogen_message_get_reply_to (msg) == 0)
    {
      g_message ("Context %u asked for context ids with nowhere to send them",
                 src_id);
      return;
    }
  if (!parse_request (msg, &count, &reason))
    {
      g_message ("Context %u: %s", src_id, reason);
      mitogen_router_send_dead (self->router, msg, reason);
      return;
    }
  if (!is_master (self))
    {
      mitogen_router_send_dead (self->router, msg,
                                "Only the master (context 0) "
                                "allocates context ids");
      return;
    }

  g_mutex_lock (&self->lock);
  granted = grant_locked (self, branch_id, &count, &start, &reason);
  g_mutex_unlock (&self->lock);
  if (!granted)
    {
      g_message ("Refusing ALLOCATE_ID from context %u: %s", src_id, reason);
      mitogen_router_send_dead (self->router, msg, reason);
      return;
    }

  g_debug ("Allocated context ids [%u, %u) to context %u", start, start + count,
           src_id);
  reply = mitogen_message_new (src_id, mitogen_message_get_reply_to (msg),
                               g_variant_new ("(uu)", start, count));
  mitogen_router_route (self->router, reply);
}

static gint64 *
pending_key (guint32 context_id, guint32 handle)
{
  gint64 *key = g_new (gint64, 1);

  *key = (gint64) (((guint64) context_id << 32) | handle);
  return key;
}

/* An ALLOCATE_ID from behind @branch_id on its way to the master. */
static void
note_request_locked (MitogenIdAllocator *self,
                     MitogenMessage *msg,
                     guint32 branch_id)
{
  Branch *b = branch_locked (self, branch_id);

  if (g_hash_table_size (self->pending) >= MAX_PENDING
      || b->n_pending >= MAX_PENDING_PER_BRANCH)
    return;
  if (g_hash_table_insert (self->pending,
                           pending_key (mitogen_message_get_src_id (msg),
                                        mitogen_message_get_reply_to (msg)),
                           GUINT_TO_POINTER (branch_id)))
    b->n_pending++;
}

/* A message from the master: if it answers a request we passed up, the
 * range it grants belongs to the branch the request came from. */
static void
note_reply_locked (MitogenIdAllocator *self, MitogenMessage *msg)
{
  gint64 key = (gint64) (((guint64) mitogen_message_get_dst_id (msg) << 32)
                         | mitogen_message_get_handle (msg));
  g_autoptr (GVariant) body = NULL;
  gpointer stolen_key, branch_id;
  guint32 start, count;
  Branch *b;

  if (!g_hash_table_steal_extended (self->pending, &key, &stolen_key,
                                    &branch_id))
    return;
  g_free (stolen_key);
  b = g_hash_table_lookup (self->branches, branch_id);
  if (b && b->n_pending > 0)
    b->n_pending--;
  if (mitogen_message_is_dead (msg))
    return;
  body = mitogen_message_get_data (msg, NULL);
  if (!body || !g_variant_is_of_type (body, G_VARIANT_TYPE ("(uu)")))
    return;
  g_variant_get (body, "(uu)", &start, &count);
  if (valid_range (start, count))
    add_range (branch_locked (self, GPOINTER_TO_UINT (branch_id)), start,
               count);
}

/* Called by the router for each message @in_stream brings for another
 * context: in an intermediate context, learns the ranges granted to each
 * branch from the ALLOCATE_ID requests and replies passing through. */
void
mitogen_id_allocator_note_passing (MitogenIdAllocator *self,
                                   MitogenMessage *msg,
                                   MitogenStream *in_stream)
{
  gboolean from_parent = mitogen_stream_get_is_privileged (in_stream);

  if (is_master (self))
    return;
  g_mutex_lock (&self->lock);
  if (!from_parent && mitogen_message_get_dst_id (msg) == 0
      && mitogen_message_get_handle (msg) == MITOGEN_HANDLE_ALLOCATE_ID
      && mitogen_message_get_reply_to (msg) != 0)
    note_request_locked (self, msg, mitogen_stream_get_remote_id (in_stream));
  else if (from_parent && mitogen_message_get_src_id (msg) == 0
           && g_hash_table_size (self->pending) > 0)
    note_reply_locked (self, msg);
  g_mutex_unlock (&self->lock);
}

/* Whether @context_id is in a range that went to @branch_id. */
gboolean
mitogen_id_allocator_branch_owns (MitogenIdAllocator *self,
                                  guint32 branch_id,
                                  guint32 context_id)
{
  gboolean owns = FALSE;
  Branch *b;

  g_mutex_lock (&self->lock);
  b = g_hash_table_lookup (self->branches, GUINT_TO_POINTER (branch_id));
  if (b)
    {
      guint i = range_index (b, context_id);

      owns = i < b->ranges->len
             && g_array_index (b->ranges, Range, i).start <= context_id;
    }
  g_mutex_unlock (&self->lock);
  return owns;
}

/* The branch is gone with every context in it: its ranges, its quota
 * count and its requests in flight go too. Its ids are not reused. */
void
mitogen_id_allocator_forget_branch (MitogenIdAllocator *self, guint32 branch_id)
{
  GHashTableIter iter;
  gpointer owner;

  g_mutex_lock (&self->lock);
  g_hash_table_remove (self->branches, GUINT_TO_POINTER (branch_id));
  g_hash_table_iter_init (&iter, self->pending);
  while (g_hash_table_iter_next (&iter, NULL, &owner))
    if (GPOINTER_TO_UINT (owner) == branch_id)
      g_hash_table_iter_remove (&iter);
  g_mutex_unlock (&self->lock);
}

/* How many branches own ids or have requests in flight. */
guint
mitogen_id_allocator_get_n_branches (MitogenIdAllocator *self)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = g_hash_table_size (self->branches);
  g_mutex_unlock (&self->lock);
  return n;
}

static void
mitogen_id_allocator_finalize (GObject *object)
{
  MitogenIdAllocator *self = MITOGEN_ID_ALLOCATOR (object);

  g_hash_table_unref (self->branches);
  g_hash_table_unref (self->pending);
  g_mutex_clear (&self->requesting);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (mitogen_id_allocator_parent_class)->finalize (object);
}

static void
mitogen_id_allocator_class_init (MitogenIdAllocatorClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_id_allocator_finalize;
}

static void
mitogen_id_allocator_init (MitogenIdAllocator *self)
{
  g_mutex_init (&self->lock);
  g_mutex_init (&self->requesting);
  self->next_id = 1;
  self->quota = ID_QUOTA_DEFAULT;
  self->branches = g_hash_table_new_full (NULL, NULL, NULL, branch_free);
  self->pending
      = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
}

/* @router: the router whose context this allocates for, which owns the
 * allocator. */
MitogenIdAllocator *
mitogen_id_allocator_new (MitogenRouter *router)
{
  MitogenIdAllocator *self = g_object_new (MITOGEN_TYPE_ID_ALLOCATOR, NULL);

  self->router = router;
  return self;
}
