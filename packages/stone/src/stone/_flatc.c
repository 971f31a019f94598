/* stone._flatc: the loop of stone.flat._fast in C.
 *
 * A first load of a 65,535-package index decodes about a million Meta records; at Python's
 * cost of about a microsecond a record that is most of the load. This module is optional: it
 * must give exactly what `_fast` gives for every input (the columns, or None where the general
 * decoder must decide), which the tests check against `_fast` on real and generated payloads.
 * The tag, primitive and relation-kind numbers are the format's (stone.meta, stone.relation).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

enum what { STRING, U64, RELATION, LICENSE };
enum list { LICENSES, DEPENDS, PROVIDES, CONFLICTS, IGNORED, NLISTS };

/* FlatMeta's scalars: name, version, release, build_release, architecture, summary,
 * description, source_id, homepage, uri, hash, download_size. */
#define NSCALARS 12
#define NAME 0
#define VERSION 1
#define RELEASE 2
#define BUILD_RELEASE 3
#define FIRST_OPTIONAL 9

static const char *const RELATION_PREFIX[] = {
    "name(",   "soname(", "pkgconfig(", "interpreter(", "cmake(",
    "python(", "binary(", "sysbinary(", "pkgconfig32(",
};
#define NKINDS ((unsigned)(sizeof RELATION_PREFIX / sizeof RELATION_PREFIX[0]))

enum { P_UINT64 = 8, P_STRING = 9, P_DEPENDENCY = 10, P_PROVIDER = 11 };

/* What a record of this tag and primitive fills (as stone.flat's _ACTIONS); 0 if it is not
 * one `_fast` takes. */
static int action(unsigned tag, unsigned primitive, enum what *what, int *slot) {
    static const signed char string_slot[] = {
        [1] = NAME + 1, [2] = 4 + 1,  [3] = VERSION + 1, [4] = 5 + 1,  [5] = 6 + 1,
        [6] = 8 + 1,    [7] = 7 + 1,  [14] = 9 + 1,      [15] = 10 + 1,
    };
    switch (primitive) {
    case P_STRING:
        if (tag == 12) {
            *what = LICENSE, *slot = LICENSES;
            return 1;
        }
        if (tag < sizeof string_slot && string_slot[tag]) {
            *what = STRING, *slot = string_slot[tag] - 1;
            return 1;
        }
        return 0;
    case P_UINT64:
        *what = U64;
        switch (tag) {
        case 11: *slot = RELEASE; return 1;
        case 13: *slot = BUILD_RELEASE; return 1;
        case 16: *slot = 11; return 1;
        }
        return 0;
    case P_DEPENDENCY:
        *what = RELATION;
        switch (tag) {
        case 8: *slot = DEPENDS; return 1;
        case 10: *slot = CONFLICTS; return 1;
        case 17: *slot = IGNORED; return 1;
        }
        return 0;
    case P_PROVIDER:
        *what = RELATION;
        switch (tag) {
        case 9: *slot = PROVIDES; return 1;
        case 10: *slot = CONFLICTS; return 1;
        }
        return 0;
    }
    return 0;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Text from UTF-8, or NULL with *refused set where `bytes.decode()` would fail. */
static PyObject *utf8(const unsigned char *data, Py_ssize_t size, int *refused) {
    PyObject *text = PyUnicode_DecodeUTF8((const char *)data, size, "strict");
    if (!text && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
        *refused = 1;
    }
    return text;
}

/* `kind(name)`, or NULL with *refused set for a kind or a name `_fast` does not take. */
static PyObject *relation(const unsigned char *data, Py_ssize_t size, int *refused) {
    unsigned kind = data[0];
    const unsigned char *name = data + 1;
    Py_ssize_t name_size = size - 1;
    if (kind >= NKINDS || name_size < 1) {
        *refused = 1;
        return NULL;
    }
    const char *prefix = RELATION_PREFIX[kind];
    Py_ssize_t prefix_size = (Py_ssize_t)strlen(prefix);
    Py_ssize_t n = 0;
    while (n < name_size && name[n] < 0x80) n++;
    if (n < name_size) {
        PyObject *text = utf8(name, name_size, refused);
        if (!text) return NULL;
        PyObject *result = PyUnicode_FromFormat("%s%U)", prefix, text);
        Py_DECREF(text);
        return result;
    }
    /* Nearly every relation is ASCII: built in place, without a text for the name alone. */
    PyObject *result = PyUnicode_New(prefix_size + name_size + 1, 127);
    if (!result) return NULL;
    char *out = (char *)PyUnicode_1BYTE_DATA(result);
    memcpy(out, prefix, prefix_size);
    memcpy(out + prefix_size, name, name_size);
    out[prefix_size + name_size] = ')';
    return result;
}

/* The value of one string or relation record (`_fast`'s NUL rules), or NULL with *refused. */
static PyObject *text_value(const unsigned char *data, Py_ssize_t size, enum what what,
                            int *refused) {
    /* One NUL at the end and none just before it; or a string that is one NUL. */
    if (size < 2 || data[size - 1] || !data[size - 2]) {
        if (size != 1 || data[0] || what == RELATION) {
            *refused = 1;
            return NULL;
        }
        return PyUnicode_New(0, 0);
    }
    if (what == RELATION) return relation(data, size - 1, refused);
    return utf8(data, size - 1, refused);
}

static PyObject *scalar_default(int slot) {
    if (slot == BUILD_RELEASE) return PyLong_FromLong(1);
    if (slot < FIRST_OPTIONAL) return PyUnicode_New(0, 0);
    Py_RETURN_NONE;
}

static PyObject *decode(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer view;
    Py_ssize_t num_records;
    if (!PyArg_ParseTuple(args, "y*n", &view, &num_records)) return NULL;
    const unsigned char *raw = view.buf;
    Py_ssize_t size = view.len, pos = 0;
    PyObject *scalars[NSCALARS] = {0};
    PyObject *lists[NLISTS] = {0};
    PyObject *result = NULL;
    int refused = 0;
    for (int i = 0; i < NLISTS; i++)
        if (!(lists[i] = PyList_New(0))) goto done;
    for (Py_ssize_t n = 0; n < num_records; n++) {
        enum what what;
        int slot;
        if (size - pos < 8) goto refuse;
        Py_ssize_t length = be32(raw + pos);
        uint32_t code = be32(raw + pos + 4);
        pos += 8;
        if (!action(code >> 16, (code >> 8) & 0xff, &what, &slot) || length > size - pos)
            goto refuse;
        const unsigned char *data = raw + pos;
        PyObject *value;
        if (what == U64) {
            if (length != 8) goto refuse;
            value = PyLong_FromUnsignedLongLong((unsigned long long)be32(data) << 32 |
                                                be32(data + 4));
        } else {
            value = text_value(data, length, what, &refused);
        }
        if (!value) goto done;
        if (what == STRING || what == U64) {
            Py_XSETREF(scalars[slot], value);
        } else {
            int failed = PyList_Append(lists[slot], value);
            Py_DECREF(value);
            if (failed) goto done;
        }
        pos += length;
    }
    if (pos != size || !scalars[NAME] || !scalars[VERSION] || !scalars[RELEASE]) goto refuse;
    if (!(result = PyTuple_New(NSCALARS + CONFLICTS + 1))) goto done;
    for (int i = 0; i < NSCALARS; i++) {
        PyObject *value = scalars[i] ? scalars[i] : scalar_default(i);
        scalars[i] = NULL;
        if (!value) goto done;
        PyTuple_SET_ITEM(result, i, value);
    }
    for (int i = LICENSES; i <= CONFLICTS; i++) {
        PyObject *values = PyList_AsTuple(lists[i]);
        if (!values) goto done;
        PyTuple_SET_ITEM(result, NSCALARS + i, values);
    }
    goto done;
refuse:
    refused = 1;
done:
    PyBuffer_Release(&view);
    for (int i = 0; i < NSCALARS; i++) Py_XDECREF(scalars[i]);
    for (int i = 0; i < NLISTS; i++) Py_XDECREF(lists[i]);
    if (refused || PyErr_Occurred()) {
        Py_CLEAR(result);
        if (refused && !PyErr_Occurred()) Py_RETURN_NONE;
    }
    return result;
}

static PyMethodDef methods[] = {
    {"decode", decode, METH_VARARGS,
     "decode(data, num_records): a Meta payload's FlatMeta fields as a tuple, or None where "
     "the general decoder must decide (as stone.flat._fast)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "stone._flatc",
    .m_doc = "The Meta payload loop of stone.flat in C.",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__flatc(void) { return PyModuleDef_Init(&module); }
