/*
 * What bindgen reads: the Xen 4.17 headers a scheduler includes, parsed with
 * the configured tree's defines and include paths (see build.rs), plus the
 * prototypes of our C helpers. Nothing here is compiled into Xen.
 */

/*
 * xen/compiler.h (included through -include config.h) makes every
 * declaration hidden, and bindgen skips hidden functions. Visibility only
 * matters for code generation, which bindgen does not do.
 */
#ifdef CONFIG_CC_HAS_VISIBILITY_ATTRIBUTE
#pragma GCC visibility pop
#endif

#include <xen/sched.h>
#include <xen/softirq.h>
#include <xen/trace.h>
#include <xen/perfc.h>
#include <xen/random.h>
#include "private.h"            /* xen/common/sched/private.h */

#include "../helpers/helpers.h"
