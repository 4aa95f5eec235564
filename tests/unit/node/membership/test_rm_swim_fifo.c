/*  rm_swim_fifo: order, wrap-around, growth and release of a burst. */
#include <stdint.h>

#include "rm_swim_fifo.h"
#include "rm_test.h"

typedef struct {
    uint64_t a;
    char tag[5];
} elem_t;

static void test_pops_in_push_order(void)
{
    rm_swim_fifo_t *f = rm_swim_fifo_new(sizeof(elem_t));
    elem_t e;
    CHECK(f && rm_swim_fifo_size(f) == 0);
    CHECK(rm_swim_fifo_pop(f, &e) == 0);
    for (uint64_t i = 0; i < 100; i++)
        CHECK(rm_swim_fifo_push(f, &(elem_t){i, "abcd"}) == 0);
    CHECK(rm_swim_fifo_size(f) == 100);
    for (uint64_t i = 0; i < 100; i++) {
        CHECK(rm_swim_fifo_pop(f, &e) == 1);
        CHECK(e.a == i && strcmp(e.tag, "abcd") == 0);
    }
    CHECK(rm_swim_fifo_pop(f, &e) == 0 && rm_swim_fifo_size(f) == 0);
    rm_swim_fifo_destroy(&f);
    CHECK(f == NULL);
}

/*  Interleaved pushes and pops: the tail wraps to the start instead of
    growing, and the order holds across it. */
static void test_order_holds_while_interleaved(void)
{
    rm_swim_fifo_t *f = rm_swim_fifo_new(sizeof(uint32_t));
    uint32_t next_in = 0, next_out = 0, v;
    for (int round = 0; round < 1000; round++) {
        for (int k = 0; k < 7; k++, next_in++)
            CHECK(rm_swim_fifo_push(f, &next_in) == 0);
        for (int k = 0; k < 5; k++) {
            CHECK(rm_swim_fifo_pop(f, &v) == 1);
            CHECK_MSG(v == next_out, "popped %u, expected %u", v, next_out);
            next_out++;
        }
    }
    CHECK(rm_swim_fifo_size(f) == next_in - next_out);
    while (rm_swim_fifo_pop(f, &v))
        CHECK(v == next_out++);
    CHECK(next_out == next_in);
    rm_swim_fifo_destroy(&f);
}

/*  Emptied after a burst, the queue starts small again and still works. */
static void test_reusable_after_a_burst(void)
{
    rm_swim_fifo_t *f = rm_swim_fifo_new(sizeof(uint64_t));
    uint64_t v;
    for (uint64_t i = 0; i < 5000; i++)
        rm_swim_fifo_push(f, &i);
    while (rm_swim_fifo_pop(f, &v))
        ;
    v = 77;
    CHECK(rm_swim_fifo_push(f, &v) == 0);
    v = 0;
    CHECK(rm_swim_fifo_pop(f, &v) == 1 && v == 77);
    rm_swim_fifo_destroy(&f);
}

static void test_destroy_with_elements_left(void)
{
    rm_swim_fifo_t *f = rm_swim_fifo_new(sizeof(int));
    int v = 1;
    rm_swim_fifo_push(f, &v);
    rm_swim_fifo_destroy(&f);
    CHECK(f == NULL);
    rm_swim_fifo_destroy(&f);
    rm_swim_fifo_destroy(NULL);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_pops_in_push_order);
    RM_RUN(test_order_holds_while_interleaved);
    RM_RUN(test_reusable_after_a_burst);
    RM_RUN(test_destroy_with_elements_left);
    RM_TEST_DONE();
}
