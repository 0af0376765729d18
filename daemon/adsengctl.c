/* adsengctl - placeholder main until the server lands (this session). */
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "adsengctl: not built yet\n");
	return 1;
}
