#include "rm_swim_array.h"

#include <stdlib.h>

int rm_swim_array_grow(void **items, uint32_t *cap, uint32_t need, size_t esize)
{
    if (need <= *cap)
        return 0;
    uint32_t c = *cap ? *cap : 8;
    while (c < need)
        c += c / 8 + 8;
    void *q = realloc(*items, (size_t)c * esize);
    if (!q)
        return -1;
    *items = q;
    *cap = c;
    return 0;
}
