using System.Diagnostics.CodeAnalysis;

namespace AdCtr.Learning.Batch;

/// <summary>
/// Labeled sparse examples in compressed sparse row (CSR) form, the input of the batch trainers (ML.NET's, in AdCtr.Learning.MLNet).
/// Rows are appended with <see cref="Add"/>; indices lie in [0, <see cref="Dimension"/>) (a hashed feature
/// space such as 2^22), values are floats, labels 0 or 1, weights finite and non-negative. Append-only and
/// not thread-safe while being filled; safe to read from several threads once filled.
/// </summary>
public sealed class SparseDataset
{
    private int[] _rowStart = [0];
    private int[] _indices = [];
    private float[] _values = [];
    private int[] _labels = [];
    private float[] _weights = [];
    private int _rows;

    /// <summary>Creates an empty dataset over feature indices [0, <paramref name="dimension"/>).</summary>
    public SparseDataset(int dimension)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        Dimension = dimension;
    }

    /// <summary>Size of the feature space: every index is below it.</summary>
    public int Dimension { get; }

    /// <summary>Number of rows added.</summary>
    public int Rows => _rows;

    /// <summary>Number of stored (index, value) pairs.</summary>
    public int NonZeros => _rowStart[_rows];

    /// <summary>Sum of the row weights.</summary>
    public double WeightSum { get; private set; }

    /// <summary>
    /// Appends one row. <paramref name="indices"/> and <paramref name="values"/> have the same length; an index
    /// may repeat (its values add up). The spans are copied.
    /// </summary>
    public void Add(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, int label, float weight = 1)
    {
        if (indices.Length != values.Length)
        {
            Throw(nameof(values), "Indices and values must have the same length.");
        }

        if ((uint)label > 1)
        {
            Throw(nameof(label), "The label must be 0 or 1.");
        }

        if (!(weight >= 0) || float.IsPositiveInfinity(weight))
        {
            Throw(nameof(weight), "The weight must be finite and non-negative.");
        }

        for (var k = 0; k < indices.Length; k++)
        {
            if ((uint)indices[k] >= (uint)Dimension)
            {
                Throw(nameof(indices), "Every index must lie in [0, Dimension).");
            }

            if (!float.IsFinite(values[k]))
            {
                Throw(nameof(values), "Every value must be finite.");
            }
        }

        var start = _rowStart[_rows];
        if ((long)start + indices.Length > Array.MaxLength)
        {
            Throw(nameof(indices), "The dataset cannot hold more non-zeros.");
        }

        EnsureCapacity(ref _indices, start + indices.Length);
        EnsureCapacity(ref _values, start + indices.Length);
        EnsureCapacity(ref _rowStart, _rows + 2);
        EnsureCapacity(ref _labels, _rows + 1);
        EnsureCapacity(ref _weights, _rows + 1);

        indices.CopyTo(_indices.AsSpan(start));
        values.CopyTo(_values.AsSpan(start));
        _labels[_rows] = label;
        _weights[_rows] = weight;
        _rowStart[_rows + 1] = start + indices.Length;
        _rows++;
        WeightSum += weight;
    }

    /// <summary>Feature indices of row <paramref name="row"/>.</summary>
    public ReadOnlySpan<int> RowIndices(int row)
    {
        CheckRow(row);
        return _indices.AsSpan(_rowStart[row], _rowStart[row + 1] - _rowStart[row]);
    }

    /// <summary>Feature values of row <paramref name="row"/>.</summary>
    public ReadOnlySpan<float> RowValues(int row)
    {
        CheckRow(row);
        return _values.AsSpan(_rowStart[row], _rowStart[row + 1] - _rowStart[row]);
    }

    /// <summary>Label (0 or 1) of row <paramref name="row"/>.</summary>
    public int Label(int row)
    {
        CheckRow(row);
        return _labels[row];
    }

    /// <summary>Weight of row <paramref name="row"/>.</summary>
    public float Weight(int row)
    {
        CheckRow(row);
        return _weights[row];
    }

    internal ReadOnlySpan<int> RowStarts => _rowStart.AsSpan(0, _rows + 1);

    internal ReadOnlySpan<int> AllIndices => _indices.AsSpan(0, NonZeros);

    internal float[] ValuesArray => _values;

    internal int[] LabelsArray => _labels;

    internal float[] WeightsArray => _weights;

    internal int[] RowStartArray => _rowStart;

    private void CheckRow(int row)
    {
        if ((uint)row >= (uint)_rows)
        {
            Throw(nameof(row), "The row does not exist.");
        }
    }

    private static void EnsureCapacity<T>(ref T[] array, int required)
    {
        if (required > array.Length)
        {
            var capacity = (int)Math.Min(Array.MaxLength, Math.Max(Math.Max(16L, required), 2L * array.Length));
            Array.Resize(ref array, capacity);
        }
    }

    [DoesNotReturn]
    private static void Throw(string paramName, string message) => throw new ArgumentOutOfRangeException(paramName, message);
}
