/*
 * audience_member.c - see audience_member.h.
 */
#include "core/audience_member.h"

#include <stdlib.h>
#include <string.h>

void audience_member_cleanup(struct audience_member *m)
{
	free(m->identifiers);
	free(m->consent);
	memset(m, 0, sizeof(*m));
}
