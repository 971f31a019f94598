#include <stdio.h>
#include "greet.h"

const char *greet_message(const char *name)
{
	static char buffer[256];
	snprintf(buffer, sizeof buffer, "Greetings, %s!", name);
	return buffer;
}
