using System.Diagnostics.CodeAnalysis;
using Microsoft.ML;

namespace AdCtr.Learning.MLNet;

/// <summary>
/// Labeled sparse rows for ML.NET, in compressed sparse row form: each row has one sparse vector per feature
/// column (one column for a linear model or trees; one per field for a field-aware factorization machine),
/// a label and a weight. Rows are added from the project's sparse feature vectors (indices and values, with
/// repeats from hash collisions allowed); each row's entries are sorted by (column, index) and repeats are
/// summed, since ML.NET's sparse <c>VBuffer</c> needs strictly increasing indices. <see cref="AsDataView"/> then
/// exposes the rows to ML.NET's trainers as an <see cref="IDataView"/> without copying or parsing anything.
/// Append-only; not thread-safe while being filled.
/// </summary>
public sealed class MlRows
{
    private int[] _offsets;
    private int[] _indices = new int[1024];
    private float[] _values = new float[1024];
    private bool[] _labels = new bool[256];
    private float[] _weights = new float[256];
    private long[] _keys = new long[64];
    private float[] _scratch = new float[64];

    /// <summary>Creates empty rows with <paramref name="columns"/> feature columns.</summary>
    public MlRows(int columns = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(columns, 1);
        Columns = columns;
        _offsets = new int[(256 * columns) + 1];
    }

    /// <summary>Number of feature columns.</summary>
    public int Columns { get; }

    /// <summary>Number of rows added.</summary>
    public int Count { get; private set; }

    /// <summary>Sum of the row weights.</summary>
    public double WeightSum { get; private set; }

    /// <summary>Stored (index, value) pairs after merging repeats.</summary>
    public int NonZeros => _offsets[Count * Columns];

    /// <summary>
    /// Appends a row. <paramref name="columns"/> gives the feature column of each entry (empty: all in column 0).
    /// Indices must be non-negative; they are checked against the column sizes by <see cref="AsDataView"/>.
    /// </summary>
    public void Add(ReadOnlySpan<int> columns, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, bool label, float weight = 1)
    {
        var n = indices.Length;
        if (values.Length != n || (!columns.IsEmpty && columns.Length != n))
        {
            Throw("values", "indices, values and columns must have the same length");
        }

        if (!(weight >= 0) || !float.IsFinite(weight))
        {
            Throw(nameof(weight), "the weight must be finite and non-negative");
        }

        if (_keys.Length < n)
        {
            _keys = new long[Math.Max(n, _keys.Length * 2)];
            _scratch = new float[_keys.Length];
        }

        for (var k = 0; k < n; k++)
        {
            var c = columns.IsEmpty ? 0 : columns[k];
            if ((uint)c >= (uint)Columns || indices[k] < 0)
            {
                Throw(nameof(indices), "a column or an index is out of range");
            }

            _keys[k] = ((long)c << 32) | (uint)indices[k];
            _scratch[k] = values[k];
        }

        Array.Sort(_keys, _scratch, 0, n);
        var row = Count;
        var start = _offsets[row * Columns];
        Grow(ref _indices, start + n);
        Grow(ref _values, start + n);
        Grow(ref _offsets, ((row + 1) * Columns) + 1);
        Grow(ref _labels, row + 1);
        Grow(ref _weights, row + 1);

        var at = start;
        var column = 0;
        for (var k = 0; k < n; k++)
        {
            var c = (int)(_keys[k] >> 32);
            var index = (int)(uint)_keys[k];
            while (column < c)
            {
                _offsets[(row * Columns) + ++column] = at;
            }

            if (k > 0 && _keys[k - 1] == _keys[k])
            {
                _values[at - 1] += _scratch[k];
            }
            else
            {
                _indices[at] = index;
                _values[at] = _scratch[k];
                at++;
            }
        }

        while (column < Columns)
        {
            _offsets[(row * Columns) + ++column] = at;
        }

        _labels[row] = label;
        _weights[row] = weight;
        WeightSum += weight;
        Count = row + 1;
    }

    /// <summary>The stored indices of column <paramref name="column"/> of row <paramref name="row"/>, increasing.</summary>
    public ReadOnlySpan<int> Indices(int row, int column) => _indices.AsSpan(Start(row, column), Length(row, column));

    /// <summary>The stored values of column <paramref name="column"/> of row <paramref name="row"/>.</summary>
    public ReadOnlySpan<float> Values(int row, int column) => _values.AsSpan(Start(row, column), Length(row, column));

    /// <summary>The label of row <paramref name="row"/>.</summary>
    public bool Label(int row) => _labels[CheckRow(row)];

    /// <summary>The weight of row <paramref name="row"/>.</summary>
    public float Weight(int row) => _weights[CheckRow(row)];

    /// <summary>
    /// The rows as an ML.NET data view with the columns <c>Label</c> (Boolean), <c>Weight</c> (Single) and one
    /// sparse Single vector per feature column (<see cref="ColumnName"/>) of the given sizes. The view reads
    /// these arrays directly: do not add rows while it is in use.
    /// </summary>
    public IDataView AsDataView(ReadOnlySpan<int> columnSizes)
    {
        if (columnSizes.Length != Columns)
        {
            Throw(nameof(columnSizes), "one size per feature column is needed");
        }

        for (var c = 0; c < Columns; c++)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(columnSizes[c], 1, nameof(columnSizes));
        }

        for (var row = 0; row < Count; row++)
        {
            for (var c = 0; c < Columns; c++)
            {
                var indices = Indices(row, c);
                if (indices.Length > 0 && indices[^1] >= columnSizes[c])
                {
                    Throw(nameof(columnSizes), "an index of row " + row + " does not fit its column");
                }
            }
        }

        return new MlRowsDataView(this, columnSizes.ToArray());
    }

    /// <summary>The name of feature column <paramref name="column"/>: <c>Features</c>, <c>Features1</c>, ...</summary>
    public static string ColumnName(int column) => column == 0 ? "Features" : "Features" + column;

    private int Start(int row, int column)
    {
        CheckRow(row);
        if ((uint)column >= (uint)Columns)
        {
            Throw(nameof(column), "no such column");
        }

        return _offsets[(row * Columns) + column];
    }

    private int Length(int row, int column) => _offsets[(row * Columns) + column + 1] - _offsets[(row * Columns) + column];

    private int CheckRow(int row)
    {
        if ((uint)row >= (uint)Count)
        {
            Throw(nameof(row), "no such row");
        }

        return row;
    }

    private static void Grow<T>(ref T[] array, int required)
    {
        if (required > array.Length)
        {
            Array.Resize(ref array, (int)Math.Min(Array.MaxLength, Math.Max(required, 2L * array.Length)));
        }
    }

    [DoesNotReturn]
    private static void Throw(string name, string message) => throw new ArgumentException(message, name);
}
