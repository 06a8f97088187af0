/* mitogen-container-exec.h: what the container exec transports share
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <gmodule.h>
#include <mitogen/mitogen.h>

G_BEGIN_DECLS

/* The options of a container exec transport, embedded in its stream. */
typedef struct
{
  gchar *container;
  gchar *username;
  gchar *tool_path;
  gchar **tool_args;
} MitogenContainerExec;

/* Appends to @argv, which already holds the tool, what goes between it
 * and the agent's command: `exec -i NAME`, …; fails for options the tool
 * lacks. */
typedef gboolean (*MitogenContainerExecBuild) (const MitogenContainerExec *exec,
                                               GPtrArray *argv,
                                               GError **error);

enum
{
  MITOGEN_CONTAINER_EXEC_PROP_0,
  MITOGEN_CONTAINER_EXEC_PROP_CONTAINER,
  MITOGEN_CONTAINER_EXEC_PROP_USERNAME,
  MITOGEN_CONTAINER_EXEC_PROP_TOOL_PATH,
  MITOGEN_CONTAINER_EXEC_PROP_TOOL_ARGS,
};

void mitogen_container_exec_class_init (MitogenParentStreamClass *klass,
                                        const gchar *name);
void mitogen_container_exec_init (MitogenContainerExec *exec,
                                  const gchar *tool);
void mitogen_container_exec_clear (MitogenContainerExec *exec);
void mitogen_container_exec_get_property (MitogenContainerExec *exec,
                                          guint prop_id,
                                          GValue *value);
void mitogen_container_exec_set_property (MitogenContainerExec *exec,
                                          guint prop_id,
                                          const GValue *value);
gchar **mitogen_container_exec_build (MitogenParentStream *stream,
                                      const MitogenContainerExec *exec,
                                      MitogenContainerExecBuild build,
                                      GError **error);
gboolean mitogen_container_exec_check_output (MitogenParentStream *stream,
                                              const MitogenContainerExec *exec,
                                              const gchar *text,
                                              GError **error);
gboolean mitogen_container_exec_build_exec_i (const MitogenContainerExec *exec,
                                              GPtrArray *argv,
                                              GError **error);
gboolean mitogen_container_exec_no_username (const MitogenContainerExec *exec,
                                             const gchar *name,
                                             GError **error);
gboolean mitogen_container_exec_create_child (MitogenParentStream *stream,
                                              const gchar *const *argv,
                                              GPid *out_pid,
                                              int *out_fd,
                                              GError **error);

/* Defines the stream type TypeName of transport @name ("lxd"), run through
 * the program @tool ("lxc") by default with the arguments @build adds, and
 * the module's entry point: a transport is this line and its @build. */
#define MITOGEN_DEFINE_CONTAINER_EXEC_TRANSPORT(TypeName, type_name, name,     \
                                                tool, build)                   \
  typedef struct                                                               \
  {                                                                            \
    MitogenParentStream parent_instance;                                       \
    MitogenContainerExec exec;                                                 \
  } TypeName;                                                                  \
  typedef struct                                                               \
  {                                                                            \
    MitogenParentStreamClass parent_class;                                     \
  } TypeName##Class;                                                           \
  GType type_name##_get_type (void);                                           \
  G_DEFINE_DYNAMIC_TYPE (TypeName, type_name, MITOGEN_TYPE_PARENT_STREAM)      \
  static gchar **type_name##_get_boot_command (MitogenParentStream *stream,    \
                                               GError **error)                 \
  {                                                                            \
    return mitogen_container_exec_build (stream, &((TypeName *) stream)->exec, \
                                         build, error);                        \
  }                                                                            \
  static gboolean type_name##_check_output (MitogenParentStream *stream,       \
                                            const gchar *text, GError **error) \
  {                                                                            \
    return mitogen_container_exec_check_output (                               \
        stream, &((TypeName *) stream)->exec, text, error);                    \
  }                                                                            \
  static void type_name##_get_property (GObject *object, guint prop_id,        \
                                        GValue *value, GParamSpec *pspec)      \
  {                                                                            \
    mitogen_container_exec_get_property (&((TypeName *) object)->exec,         \
                                         prop_id, value);                      \
  }                                                                            \
  static void type_name##_set_property (                                       \
      GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)  \
  {                                                                            \
    mitogen_container_exec_set_property (&((TypeName *) object)->exec,         \
                                         prop_id, value);                      \
  }                                                                            \
  static void type_name##_finalize (GObject *object)                           \
  {                                                                            \
    mitogen_container_exec_clear (&((TypeName *) object)->exec);               \
    G_OBJECT_CLASS (type_name##_parent_class)->finalize (object);              \
  }                                                                            \
  static void type_name##_class_init (TypeName##Class *klass)                  \
  {                                                                            \
    GObjectClass *object_class = G_OBJECT_CLASS (klass);                       \
    MitogenParentStreamClass *parent_class                                     \
        = MITOGEN_PARENT_STREAM_CLASS (klass);                                 \
                                                                               \
    object_class->get_property = type_name##_get_property;                     \
    object_class->set_property = type_name##_set_property;                     \
    object_class->finalize = type_name##_finalize;                             \
    parent_class->get_boot_command = type_name##_get_boot_command;             \
    parent_class->check_output = type_name##_check_output;                     \
    mitogen_container_exec_class_init (parent_class, name);                    \
  }                                                                            \
  static void type_name##_class_finalize (TypeName##Class *klass)              \
  {                                                                            \
  }                                                                            \
  static void type_name##_init (TypeName *self)                                \
  {                                                                            \
    mitogen_container_exec_init (&self->exec, tool);                           \
  }                                                                            \
  G_MODULE_EXPORT GType mitogen_transport_register (GTypeModule *module);      \
  G_MODULE_EXPORT GType mitogen_transport_register (GTypeModule *module)       \
  {                                                                            \
    type_name##_register_type (module);                                        \
    return type_name##_get_type ();                                            \
  }

G_END_DECLS
