/* The C API of librealtime; realtime.h is found through pkg-config (`realtime.pc`: its Cflags). */
#include <realtime.h>
