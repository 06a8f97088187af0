/* mitogen-basic-stream.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-basic-stream.h"

#include "mitogen-broker.h"
#include "mitogen-basic-stream-private.h"

/**
 * MitogenBasicStream:
 *
 * Something the broker reads from and writes to: a receive side and a
 * transmit side (which may share one socket), and the methods the broker
 * calls when they are ready.
 *
 * The broker calls every method on its own thread.
 */
typedef struct {
  MitogenSide *receive_side;
  MitogenSide *transmit_side;
  gchar *name;
  gboolean disconnected;
} MitogenBasicStreamPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (MitogenBasicStream, mitogen_basic_stream,
                                     G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_RECEIVE_SIDE,
  PROP_TRANSMIT_SIDE,
  PROP_NAME,
  N_PROPS
};

static GParamSpec *props[N_PROPS];

enum {
  SIGNAL_DISCONNECT,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

#define PRIV(self) \
  ((MitogenBasicStreamPrivate *) mitogen_basic_stream_get_instance_private (self))

static void
mitogen_basic_stream_real_on_shutdown (MitogenBasicStream *self,
                                       MitogenBroker *broker)
{
  mitogen_basic_stream_on_disconnect (self, broker);
}

static void
mitogen_basic_stream_real_on_disconnect (MitogenBasicStream *self,
                                         MitogenBroker *broker)
{
  MitogenBasicStreamPrivate *priv = PRIV (self);

  if (priv->disconnected)
    return;
  priv->disconnected = TRUE;

  g_object_ref (self);
  if (broker)
    {
      mitogen_broker_stop_receive (broker, self);
      mitogen_broker_stop_transmit (broker, self);
    }
  if (priv->receive_side)
    mitogen_side_close (priv->receive_side);
  if (priv->transmit_side)
    mitogen_side_close (priv->transmit_side);
  g_signal_emit (self, signals[SIGNAL_DISCONNECT], 0);
  g_object_unref (self);
}

static void
mitogen_basic_stream_get_property (GObject *object,
                                   guint prop_id,
                                   GValue *value,
                                   GParamSpec *pspec)
{
  MitogenBasicStream *self = MITOGEN_BASIC_STREAM (object);
  MitogenBasicStreamPrivate *priv = PRIV (self);

  switch (prop_id)
    {
    case PROP_RECEIVE_SIDE:
      g_value_set_object (value, priv->receive_side);
      break;
    case PROP_TRANSMIT_SIDE:
      g_value_set_object (value, priv->transmit_side);
      break;
    case PROP_NAME:
      g_value_set_string (value, priv->name);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mitogen_basic_stream_set_property (GObject *object,
                                   guint prop_id,
                                   const GValue *value,
                                   GParamSpec *pspec)
{
  MitogenBasicStream *self = MITOGEN_BASIC_STREAM (object);

  switch (prop_id)
    {
    case PROP_RECEIVE_SIDE:
      mitogen_basic_stream_set_receive_side (self, g_value_get_object (value));
      break;
    case PROP_TRANSMIT_SIDE:
      mitogen_basic_stream_set_transmit_side (self, g_value_get_object (value));
      break;
    case PROP_NAME:
      mitogen_basic_stream_set_name (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
mitogen_basic_stream_finalize (GObject *object)
{
  MitogenBasicStreamPrivate *priv = PRIV (MITOGEN_BASIC_STREAM (object));

  g_clear_object (&priv->receive_side);
  g_clear_object (&priv->transmit_side);
  g_free (priv->name);

  G_OBJECT_CLASS (mitogen_basic_stream_parent_class)->finalize (object);
}

static void
mitogen_basic_stream_class_init (MitogenBasicStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = mitogen_basic_stream_get_property;
  object_class->set_property = mitogen_basic_stream_set_property;
  object_class->finalize = mitogen_basic_stream_finalize;

  klass->on_shutdown = mitogen_basic_stream_real_on_shutdown;
  klass->on_disconnect = mitogen_basic_stream_real_on_disconnect;

  /**
   * MitogenBasicStream:receive-side:
   *
   * The side the broker reads from.
   */
  props[PROP_RECEIVE_SIDE] =
    g_param_spec_object ("receive-side", NULL, NULL, MITOGEN_TYPE_SIDE,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenBasicStream:transmit-side:
   *
   * The side the broker writes to.
   */
  props[PROP_TRANSMIT_SIDE] =
    g_param_spec_object ("transmit-side", NULL, NULL, MITOGEN_TYPE_SIDE,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * MitogenBasicStream:name:
   *
   * A name for logs and errors, such as `local.4242`.
   */
  props[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  /**
   * MitogenBasicStream::disconnect:
   * @self: the stream
   *
   * Emitted on the broker thread once the stream is disconnected.
   */
  signals[SIGNAL_DISCONNECT] =
    g_signal_new ("disconnect", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
mitogen_basic_stream_init (MitogenBasicStream *self)
{
}

/**
 * mitogen_basic_stream_get_receive_side:
 * @self: a stream
 *
 * Returns the receive side.
 *
 * Returns: (transfer none) (nullable): the receive side
 */
MitogenSide *
mitogen_basic_stream_get_receive_side (MitogenBasicStream *self)
{
  return PRIV (self)->receive_side;
}

/**
 * mitogen_basic_stream_set_receive_side:
 * @self: a stream
 * @side: (nullable): the new receive side
 *
 * Replaces the side the stream reads from.
 */
void
mitogen_basic_stream_set_receive_side (MitogenBasicStream *self,
                                       MitogenSide *side)
{
  if (g_set_object (&PRIV (self)->receive_side, side))
    g_object_notify_by_pspec (G_OBJECT (self), props[PROP_RECEIVE_SIDE]);
}

/**
 * mitogen_basic_stream_get_transmit_side:
 * @self: a stream
 *
 * Returns the transmit side.
 *
 * Returns: (transfer none) (nullable): the transmit side
 */
MitogenSide *
mitogen_basic_stream_get_transmit_side (MitogenBasicStream *self)
{
  return PRIV (self)->transmit_side;
}

/**
 * mitogen_basic_stream_set_transmit_side:
 * @self: a stream
 * @side: (nullable): the new transmit side
 *
 * Replaces the side the stream writes to.
 */
void
mitogen_basic_stream_set_transmit_side (MitogenBasicStream *self,
                                        MitogenSide *side)
{
  if (g_set_object (&PRIV (self)->transmit_side, side))
    g_object_notify_by_pspec (G_OBJECT (self), props[PROP_TRANSMIT_SIDE]);
}

/**
 * mitogen_basic_stream_get_name:
 * @self: a stream
 *
 * Returns the stream's name.
 *
 * Returns: (nullable): the stream's name
 */
const gchar *
mitogen_basic_stream_get_name (MitogenBasicStream *self)
{
  return PRIV (self)->name;
}

/**
 * mitogen_basic_stream_set_name:
 * @self: a stream
 * @name: (nullable): a name for logs and errors
 *
 * Names the stream, for logs and errors.
 */
void
mitogen_basic_stream_set_name (MitogenBasicStream *self,
                               const gchar *name)
{
  MitogenBasicStreamPrivate *priv = PRIV (self);

  if (g_strcmp0 (priv->name, name) == 0)
    return;
  g_free (priv->name);
  priv->name = g_strdup (name);
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_NAME]);
}

/**
 * mitogen_basic_stream_is_disconnected:
 * @self: a stream
 *
 * Returns %TRUE once mitogen_basic_stream_on_disconnect() ran.
 *
 * Returns: %TRUE once mitogen_basic_stream_on_disconnect() ran
 */
gboolean
mitogen_basic_stream_is_disconnected (MitogenBasicStream *self)
{
  return PRIV (self)->disconnected;
}

/**
 * mitogen_basic_stream_on_receive:
 * @self: a stream
 * @broker: the broker
 *
 * Called by the broker when the receive side is readable.
 */
void
mitogen_basic_stream_on_receive (MitogenBasicStream *self,
                                 MitogenBroker *broker)
{
  MITOGEN_BASIC_STREAM_GET_CLASS (self)->on_receive (self, broker);
}

/**
 * mitogen_basic_stream_on_transmit:
 * @self: a stream
 * @broker: the broker
 *
 * Called by the broker when the transmit side is writable.
 */
void
mitogen_basic_stream_on_transmit (MitogenBasicStream *self,
                                  MitogenBroker *broker)
{
  MITOGEN_BASIC_STREAM_GET_CLASS (self)->on_transmit (self, broker);
}

/**
 * mitogen_basic_stream_on_shutdown:
 * @self: a stream
 * @broker: the broker
 *
 * Called by mitogen_broker_shutdown() to let the stream end gracefully.
 */
void
mitogen_basic_stream_on_shutdown (MitogenBasicStream *self,
                                  MitogenBroker *broker)
{
  MITOGEN_BASIC_STREAM_GET_CLASS (self)->on_shutdown (self, broker);
}

/**
 * mitogen_basic_stream_on_disconnect:
 * @self: a stream
 * @broker: (nullable): the broker
 *
 * Forces the stream to disconnect: closes both sides, unregisters them
 * from @broker and emits #MitogenBasicStream::disconnect. Runs once.
 */
void
mitogen_basic_stream_on_disconnect (MitogenBasicStream *self,
                                    MitogenBroker *broker)
{
  MITOGEN_BASIC_STREAM_GET_CLASS (self)->on_disconnect (self, broker);
}
