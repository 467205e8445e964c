/*
 * The argument values a comparison matches, and whether two comparisons
 * match a value in common.
 *
 * Every comparison of a rule matches one of three shapes of set of 64-bit
 * values:
 *
 * - a masked value, the x with (x & mask) == value: masked_eq, and ==
 *   with a mask of all ones;
 * - an interval [low, high]: <, <=, > and >=;
 * - all values but one: !=.
 *
 * rules.c rejects two rules with different actions that can match the
 * same call, and names such a call in its error.  Both need to know
 * whether two of these sets intersect, and a value in the intersection.
 */
#include "core.h"

#include <stdint.h>

enum value_shape {
    SHAPE_MASKED,
    SHAPE_INTERVAL,
    SHAPE_ALL_BUT,
};

typedef struct {
    enum value_shape shape;
    uint64_t a;                 /* mask, low, or the excluded value */
    uint64_t b;                 /* value (within the mask), or high */
} value_set;

/* The set of a comparison that parsing accepted: < 0 and > 2**64-1 match
 * nothing and are rejected there, and a masked_eq value has no bits
 * outside its mask. */
static value_set
set_of(const struct scmp_arg_cmp *cmp)
{
    value_set set;

    switch (cmp->op) {
    case SCMP_CMP_NE:
        set.shape = SHAPE_ALL_BUT;
        set.a = cmp->datum_a;
        set.b = 0;
        break;
    case SCMP_CMP_LT:
        set.shape = SHAPE_INTERVAL;
        set.a = 0;
        set.b = cmp->datum_a - 1;
        break;
    case SCMP_CMP_LE:
        set.shape = SHAPE_INTERVAL;
        set.a = 0;
        set.b = cmp->datum_a;
        break;
    case SCMP_CMP_GT:
        set.shape = SHAPE_INTERVAL;
        set.a = cmp->datum_a + 1;
        set.b = UINT64_MAX;
        break;
    case SCMP_CMP_GE:
        set.shape = SHAPE_INTERVAL;
        set.a = cmp->datum_a;
        set.b = UINT64_MAX;
        break;
    case SCMP_CMP_MASKED_EQ:
        set.shape = SHAPE_MASKED;
        set.a = cmp->datum_a;
        set.b = cmp->datum_b;
        break;
    default:
        set.shape = SHAPE_MASKED;
        set.a = UINT64_MAX;
        set.b = cmp->datum_a;
        break;
    }
    return set;
}

/*
 * Find the minimum x >= low with (x & mask) == value, where value has no
 * bits outside mask, and store it in *out.  Returns 0 when there is none.
 *
 * The bits outside the mask are free.  x follows low from the top bit down
 * as long as the fixed bits agree.  At the first fixed bit where they do
 * not: if x has a 1 where low has a 0, x is already above low, so every
 * lower free bit can be 0.  If x has a 0 where low has a 1, x must go
 * above low at a higher free bit that is 0 in low: the lowest such bit is
 * set, and every free bit below it cleared.
 */
static int
least_masked_at_least(uint64_t low, uint64_t mask, uint64_t value,
                      uint64_t *out)
{
    int bit, higher;

    if (value >= low) {
        *out = value;
        return 1;
    }
    for (bit = 63; bit >= 0; bit--) {
        uint64_t here = (uint64_t)1 << bit, below = here - 1;

        if (!(mask & here) || (value & here) == (low & here))
            continue;
        if (value & here) {
            *out = (low & ~mask & ~below & ~here) | value;
            return 1;
        }
        for (higher = bit + 1; higher < 64; higher++) {
            uint64_t step = (uint64_t)1 << higher;

            if (!(mask & step) && !(low & step)) {
                *out = (low & ~mask & ~(step - 1)) | step | value;
                return 1;
            }
        }
        return 0;
    }
    /* Every fixed bit of low equals value's, so low itself matches. */
    *out = low;
    return 1;
}

/* Whether a masked set has only the one element value. */
static int
masked_is_single(const value_set *set)
{
    return set->a == UINT64_MAX;
}

static int
masked_and_masked(const value_set *x, const value_set *y, uint64_t *witness)
{
    /* Both masks cover the bits where the values must agree, and value_x
     * | value_y then matches both, since each lies within its mask. */
    if (((x->b ^ y->b) & x->a & y->a) != 0)
        return 0;
    *witness = x->b | y->b;
    return 1;
}

static int
masked_and_interval(const value_set *x, const value_set *y, uint64_t *witness)
{
    uint64_t least;

    if (!least_masked_at_least(y->a, x->a, x->b, &least) || least > y->b)
        return 0;
    *witness = least;
    return 1;
}

static int
masked_and_all_but(const value_set *x, const value_set *y, uint64_t *witness)
{
    uint64_t free_bits;

    if (x->b != y->a) {
        *witness = x->b;
        return 1;
    }
    if (masked_is_single(x))
        return 0;
    /* The lowest free bit gives a second element of the masked set. */
    free_bits = ~x->a;
    *witness = x->b | (free_bits & (0 - free_bits));
    return 1;
}

static int
interval_and_interval(const value_set *x, const value_set *y,
                      uint64_t *witness)
{
    uint64_t low = x->a > y->a ? x->a : y->a;
    uint64_t high = x->b < y->b ? x->b : y->b;

    if (low > high)
        return 0;
    *witness = low;
    return 1;
}

static int
interval_and_all_but(const value_set *x, const value_set *y,
                     uint64_t *witness)
{
    if (x->a != y->a) {
        *witness = x->a;
        return 1;
    }
    if (x->b == x->a)
        return 0;
    *witness = x->a + 1;
    return 1;
}

/* Two != each exclude one value, and one of 0, 1 and 2 is neither. */
static int
all_but_and_all_but(const value_set *x, const value_set *y,
                    uint64_t *witness)
{
    uint64_t candidate = 0;

    while (candidate == x->a || candidate == y->a)
        candidate++;
    *witness = candidate;
    return 1;
}

int
scx_comparisons_intersect(const struct scmp_arg_cmp *first,
                          const struct scmp_arg_cmp *second,
                          uint64_t *witness)
{
    value_set x = set_of(first), y = set_of(second);

    /* Order the pair so that x's shape comes first in enum value_shape. */
    if (x.shape > y.shape) {
        value_set swap = x;

        x = y;
        y = swap;
    }
    if (x.shape == SHAPE_MASKED && y.shape == SHAPE_MASKED)
        return masked_and_masked(&x, &y, witness);
    if (x.shape == SHAPE_MASKED && y.shape == SHAPE_INTERVAL)
        return masked_and_interval(&x, &y, witness);
    if (x.shape == SHAPE_MASKED)
        return masked_and_all_but(&x, &y, witness);
    if (y.shape == SHAPE_INTERVAL)
        return interval_and_interval(&x, &y, witness);
    if (x.shape == SHAPE_INTERVAL)
        return interval_and_all_but(&x, &y, witness);
    return all_but_and_all_but(&x, &y, witness);
}

uint64_t
scx_value_matching(const struct scmp_arg_cmp *cmp)
{
    uint64_t witness = 0;

    scx_comparisons_intersect(cmp, cmp, &witness);
    return witness;
}

/* Parse an (arg, op, datum_a, datum_b) tuple of a comparison that parsing
 * a rule would accept. */
static int
parse_plain_comparison(PyObject *obj, struct scmp_arg_cmp *cmp)
{
    unsigned int arg, op;
    unsigned long long datum_a, datum_b;

    if (!PyArg_ParseTuple(obj, "IIKK", &arg, &op, &datum_a, &datum_b))
        return -1;
    if (op < SCMP_CMP_NE || op > SCMP_CMP_MASKED_EQ
        || (op == SCMP_CMP_LT && datum_a == 0)
        || (op == SCMP_CMP_GT && datum_a == UINT64_MAX)
        || (op == SCMP_CMP_MASKED_EQ && (datum_b & ~datum_a) != 0)) {
        PyErr_Format(PyExc_ValueError,
                     "comparison (%u, %u, %llu, %llu) can never match or "
                     "has no operator 1 to 7", arg, op, datum_a, datum_b);
        return -1;
    }
    cmp->arg = arg;
    cmp->op = (enum scmp_compare)op;
    cmp->datum_a = datum_a;
    cmp->datum_b = datum_b;
    return 0;
}

/* _comparisons_intersect(first, second) -> int | None, for seccompx.compat,
 * which predicts the extension's refusals. */
PyObject *
scx_comparisons_intersect_py(PyObject *module, PyObject *args)
{
    PyObject *first_obj, *second_obj;
    struct scmp_arg_cmp first, second;
    uint64_t witness;

    if (!PyArg_ParseTuple(args, "O!O!:_comparisons_intersect", &PyTuple_Type,
                          &first_obj, &PyTuple_Type, &second_obj))
        return NULL;
    if (parse_plain_comparison(first_obj, &first) < 0
        || parse_plain_comparison(second_obj, &second) < 0)
        return NULL;
    if (!scx_comparisons_intersect(&first, &second, &witness))
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLongLong(witness);
}
