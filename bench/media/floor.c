/* The floor: placeholder until step 4. */
#include "emu.h"

int mb_floor_main(int argc, char **argv) { return 2; }
