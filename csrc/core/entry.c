/*
 * FilterBase, the base of seccompx.Filter: its __init__, allow(),
 * add_rules() and load(), each one call into the extension.
 *
 * Each handles the common case itself and passes every other call to a
 * Python method of seccompx.Filter: __init__ and add_rules() to
 * _init_general and _add_rules_general, with the arguments unchanged, and
 * allow() and load() to _add_checked and _load_general.  The behaviour and
 * the errors therefore stay those of the Python code.  __init__ is the
 * type's tp_init, so that Filter(...) reaches it without a method lookup
 * or a repacking of the arguments.
 *
 * Why C: a child forked from a large Python process shares its parent's
 * pages copy-on-write, and a Python frame writes to the reference count of
 * every object it touches, so each frame costs page faults there.  Without
 * the frames of __init__ and allow(), building the benchmarks' 60-rule
 * filter in such a child took about 15 us less (CPython 3.11, x86_64).
 */
#include "core.h"

/* Docstrings: the text after "--" must equal the docstring of the
 * method's stub in seccompx/_filter.py, which the test suite checks. */
static const char allow_doc[] =
    "allow($self, /, *syscalls, strict=None)\n--\n\n"
    "Allow each of ``syscalls``, in one call to the extension.";
static const char add_rules_doc[] =
    "add_rules($self, /, rules, *, strict=None)\n--\n\n"
    "Add many ``(action, syscall[, comparisons])`` rules in one call.\n\n"
    "Returns the number of rules added.  With libseccomp 2.6 a batch is\n"
    "all or nothing: when a rule fails, the rules of the batch added before\n"
    "it are undone, the rule's own error is raised, and the filter keeps\n"
    "the rules of earlier calls.  libseccomp 2.5 has no transactions, so a\n"
    "rule that fails after others were added leaves the filter incomplete:\n"
    "this raises FilterStateError, and so does load() until reset().  The\n"
    "same happens with 2.6 if libseccomp fails to commit the batch.";
static const char load_doc[] =
    "load($self, /)\n--\n\n"
    "Load the filter into the kernel for this process.\n\n"
    "Raises LoadError naming the cause when the kernel rejects it.\n"
    "Loading cannot be undone.";

/* Call the Python method `name` of self with the arguments unchanged. */
static PyObject *
call_general(scx_filter *self, PyObject *name, PyObject *const *args,
             size_t nargsf, PyObject *kwnames)
{
    PyObject *method, *result;

    method = PyObject_GetAttr((PyObject *)self, name);
    if (method == NULL)
        return NULL;
    result = PyObject_Vectorcall(method, args, PyVectorcall_NARGS(nargsf),
                                 kwnames);
    Py_DECREF(method);
    return result;
}

/* Return whether no keyword or only `name` was passed, and set *value to
 * the argument of `name` when it was. */
static int
only_keyword(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
             PyObject *name, PyObject **value)
{
    PyObject *given;
    int equal;

    if (kwnames == NULL || PyTuple_GET_SIZE(kwnames) == 0)
        return 1;
    if (PyTuple_GET_SIZE(kwnames) != 1)
        return 0;
    given = PyTuple_GET_ITEM(kwnames, 0);
    /* Keyword names are almost always the interned literal. */
    equal = given == name || PyUnicode_Compare(given, name) == 0;
    if (equal)
        *value = args[nargs];
    return equal;
}

/* Return whether kwargs is empty or contains only strict, and set *strict
 * to its value when it is there. */
static int
only_strict(scx_state *st, PyObject *kwargs, PyObject **strict)
{
    Py_ssize_t position = 0;
    PyObject *name, *value;

    if (kwargs == NULL || PyDict_GET_SIZE(kwargs) == 0)
        return 1;
    if (PyDict_GET_SIZE(kwargs) != 1 || !PyDict_Next(kwargs, &position,
                                                     &name, &value))
        return 0;
    /* Keyword names are almost always the interned literal. */
    if (name != st->str_strict && PyUnicode_Compare(name, st->str_strict))
        return 0;
    *strict = value;
    return 1;
}

/* Raise the TypeError for a keyword of allow() other than strict. */
static PyObject *
raise_bad_keyword(scx_state *st, PyObject *kwargs)
{
    Py_ssize_t position = 0;
    PyObject *name, *value;

    while (PyDict_Next(kwargs, &position, &name, &value)) {
        if (PyUnicode_Compare(name, st->str_strict) != 0) {
            PyErr_Format(PyExc_TypeError,
                         "allow() got an unexpected keyword argument %R; it "
                         "takes syscalls and strict=", name);
            return NULL;
        }
    }
    /* Reached only with strict= twice, which Python's calls prevent. */
    PyErr_SetString(PyExc_TypeError,
                    "allow() takes strict= once");
    return NULL;
}

/* Return a new reference to `strict` if it is not None, which the
 * extension then checks, else to True or False as self.strict is true,
 * which a subclass may compute in a property. */
static PyObject *
strict_value(scx_filter *self, scx_state *st, PyObject *strict)
{
    PyObject *own;
    int truth;

    if (strict != Py_None) {
        Py_INCREF(strict);
        return strict;
    }
    /* Read the member itself while getattr would find that member: the
     * type's attribute lookup is the generic one and its attribute is the
     * member.  getattr writes to the descriptor's reference count, which
     * costs a page fault in a freshly forked child.  A subclass with its
     * own __getattribute__ or __getattr__ gets getattr. */
    if (Py_TYPE(self)->tp_getattro == PyObject_GenericGetAttr
        && _PyType_Lookup(Py_TYPE(self), st->member_names[SCX_MEMBER_STRICT])
           == st->member_descriptors[SCX_MEMBER_STRICT])
        own = scx_get_member(self, &self->strict);
    else
        own = NULL;
    if (own == NULL)
        own = PyObject_GetAttr((PyObject *)self, st->str_strict);
    if (own == NULL)
        return NULL;
    truth = PyObject_IsTrue(own);
    Py_DECREF(own);
    if (truth < 0)
        return NULL;
    return PyBool_FromLong(truth);
}

/* Return whether Filter() got only `default` and perhaps `optimize`, and
 * set *default_action and *optimize to them. */
static int
common_init(scx_state *st, PyObject *args, PyObject *kwargs,
            PyObject **default_action, PyObject **optimize)
{
    if (PyTuple_GET_SIZE(args) != 1)
        return 0;
    *default_action = PyTuple_GET_ITEM(args, 0);
    if (kwargs == NULL || PyDict_GET_SIZE(kwargs) == 0)
        return 1;
    if (PyDict_GET_SIZE(kwargs) != 1)
        return 0;
    *optimize = PyDict_GetItemWithError(kwargs, st->str_optimize);
    return *optimize != NULL;
}

static int
entry_init(scx_filter *self, PyObject *args, PyObject *kwargs)
{
    scx_state *st = scx_filter_state(self);
    PyObject *default_action, *optimize = Py_None, *method, *result;
    int done;

    if (!common_init(st, args, kwargs, &default_action, &optimize)) {
        if (PyErr_Occurred())
            return -1;
        goto general;
    }
    done = scx_init_default(self, default_action, NULL, optimize);
    if (done != 0)
        return done < 0 ? -1 : 0;

general:
    method = PyObject_GetAttr((PyObject *)self, st->str_init_general);
    if (method == NULL)
        return -1;
    result = PyObject_Call(method, args, kwargs);
    Py_DECREF(method);
    if (result == NULL)
        return -1;
    Py_DECREF(result);
    return 0;
}

/* Call type.__call__(callable, *args, **keywords), as CPython does for a
 * class without tp_vectorcall. */
static PyObject *
call_type(PyObject *callable, PyObject *const *args, size_t nargsf,
          PyObject *kwnames)
{
    Py_ssize_t i, nargs = PyVectorcall_NARGS(nargsf);
    PyObject *positional, *keywords = NULL, *result = NULL;

    positional = PyTuple_New(nargs);
    if (positional == NULL)
        return NULL;
    for (i = 0; i < nargs; i++) {
        Py_INCREF(args[i]);
        PyTuple_SET_ITEM(positional, i, args[i]);
    }
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0) {
        keywords = PyDict_New();
        if (keywords == NULL)
            goto done;
        for (i = 0; i < PyTuple_GET_SIZE(kwnames); i++) {
            if (PyDict_SetItem(keywords, PyTuple_GET_ITEM(kwnames, i),
                               args[nargs + i]) < 0)
                goto done;
        }
    }
    result = PyType_Type.tp_call(callable, positional, keywords);

done:
    Py_DECREF(positional);
    Py_XDECREF(keywords);
    return result;
}

/*
 * Filter(default) and Filter(default, optimize=level) without
 * type.__call__.  CPython calls a class through its tp_vectorcall when
 * that is set, and otherwise packs the arguments into a tuple and a dict
 * for type.__call__, which in a freshly forked child writes to several
 * more pages.  _enable_vectorcall() sets this on seccompx.Filter.
 * tp_vectorcall is never inherited, so a subclass keeps type.__call__,
 * and a class whose __new__ or __init__ was reassigned has other slots
 * and takes type.__call__ here too.
 */
static PyObject *
entry_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf,
                 PyObject *kwnames)
{
    PyTypeObject *type = (PyTypeObject *)callable;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *optimize = Py_None, *self, *result;
    scx_state *st;
    int done;

    st = scx_state_from_type(type);
    if (st == NULL)
        return NULL;
    if (type->tp_new != st->filter_base_type->tp_new
        || type->tp_init != (initproc)entry_init || nargs != 1
        || !only_keyword(args, nargs, kwnames, st->str_optimize, &optimize))
        return call_type(callable, args, nargsf, kwnames);

    self = type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    done = scx_init_default((scx_filter *)self, args[0], NULL, optimize);
    if (done == 0) {
        result = call_general((scx_filter *)self, st->str_init_general,
                              args, nargsf, kwnames);
        done = result == NULL ? -1 : 1;
        Py_XDECREF(result);
    }
    if (done < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return self;
}

/* _enable_vectorcall(cls): let Filter(...) reach entry_vectorcall(). */
PyObject *
scx_enable_vectorcall(PyObject *module, PyObject *cls)
{
    scx_state *st = scx_get_state(module);
    PyTypeObject *type = (PyTypeObject *)cls;

    if (!PyType_Check(cls) || !PyType_HasFeature(type, Py_TPFLAGS_HEAPTYPE)
        || !PyType_IsSubtype(type, st->filter_base_type)) {
        PyErr_Format(PyExc_TypeError,
                     "_enable_vectorcall() takes a class derived from "
                     "FilterBase, not %R", cls);
        return NULL;
    }
    type->tp_vectorcall = entry_vectorcall;
    Py_RETURN_NONE;
}

/* allow() takes its arguments as a tuple, not a vector, so that
 * f.allow(*names) receives the caller's tuple itself and records it with
 * one new reference.  A copy would write to every name's reference count,
 * one copy-on-write page per few names in a forked child. */
static PyObject *
entry_allow(scx_filter *self, PyObject *syscalls, PyObject *kwargs)
{
    scx_state *st = scx_filter_state(self);
    PyObject *strict = Py_None, *result;
    PyObject *same_args[3];

    if (!only_strict(st, kwargs, &strict))
        return raise_bad_keyword(st, kwargs);
    same_args[0] = st->allow_value;
    same_args[1] = syscalls;
    same_args[2] = strict_value(self, st, strict);
    if (same_args[2] == NULL)
        return NULL;
    result = scx_filter_add_same(self, same_args, 3);
    Py_DECREF(same_args[2]);
    if (result == Py_NotImplemented) {
        PyObject *checked_args[3] = {st->allow_value, syscalls, strict};

        Py_DECREF(result);
        result = call_general(self, st->str_add_checked, checked_args, 3,
                              NULL);
    }
    return result;
}

static PyObject *
entry_add_rules(scx_filter *self, PyObject *const *args, size_t nargsf,
                PyObject *kwnames)
{
    scx_state *st = scx_filter_state(self);
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *strict = Py_None, *result = NULL;

    if (nargs != 1
        || !only_keyword(args, nargs, kwnames, st->str_strict, &strict))
        goto general;
    strict = strict_value(self, st, strict);
    if (strict == NULL)
        return NULL;
    result = scx_add_rules_plain(self, args[0], strict, NULL);
    Py_DECREF(strict);
    if (result != Py_NotImplemented)
        return result;
    Py_DECREF(result);

general:
    return call_general(self, st->str_add_rules_general, args, nargsf,
                        kwnames);
}

static PyObject *
entry_load(scx_filter *self, PyObject *unused)
{
    scx_state *st = scx_filter_state(self);
    PyObject *err, *error;

    err = scx_filter_load_plain(self, NULL);
    if (err == Py_NotImplemented) {
        Py_DECREF(err);
        return call_general(self, st->str_load_general, NULL, 0, NULL);
    }
    if (err == NULL || err == Py_None)
        return err;
    /* The kernel rejected the filter: raise what _load_error() builds. */
    error = PyObject_CallMethodOneArg((PyObject *)self, st->str_load_error,
                                      err);
    Py_DECREF(err);
    if (error == NULL)
        return NULL;
    PyErr_SetObject((PyObject *)Py_TYPE(error), error);
    Py_DECREF(error);
    return NULL;
}

static PyMethodDef entry_methods[] = {
    {"allow", (PyCFunction)(void (*)(void))entry_allow,
     METH_VARARGS | METH_KEYWORDS, allow_doc},
    {"add_rules", (PyCFunction)(void (*)(void))entry_add_rules,
     METH_FASTCALL | METH_KEYWORDS, add_rules_doc},
    {"load", (PyCFunction)entry_load, METH_NOARGS, load_doc},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot entry_slots[] = {
    {Py_tp_init, entry_init},
    {Py_tp_methods, entry_methods},
    {Py_tp_doc, "FilterBase(default, **keywords)\n\nThe extension's part "
                "of seccompx.Filter, which documents it."},
    {0, NULL},
};

/* The instances are Context's: this type adds methods only, and inherits
 * the size, the garbage-collector support (with Py_TPFLAGS_HAVE_GC) and
 * the deallocator. */
PyType_Spec scx_filter_base_spec = {
    .name = "seccompx._core.FilterBase",
    .basicsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .slots = entry_slots,
};
