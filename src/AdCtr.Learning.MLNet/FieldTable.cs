using System.Diagnostics.CodeAnalysis;

namespace AdCtr.Learning.MLNet;

/// <summary>
/// Labeled examples as one (key, value) per field of the feature spec: the key is the field's feature hash
/// from <see cref="Features.FeatureEncoder.FieldHashes"/> (0 = the field is missing), the value 1 for a
/// categorical field or the number for a count or numeric one. The input of the field-aware factorization
/// machine (one field each) and of the boosted trees (counts and small categoricals). Append-only.
/// </summary>
public sealed class FieldTable
{
    private uint[] _keys;
    private float[] _values;
    private bool[] _labels = new bool[256];
    private float[] _weights = new float[256];

    /// <summary>Creates an empty table of <paramref name="fields"/> fields.</summary>
    public FieldTable(int fields)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(fields, 1);
        Fields = fields;
        _keys = new uint[256 * fields];
        _values = new float[256 * fields];
    }

    /// <summary>Number of fields per example.</summary>
    public int Fields { get; }

    /// <summary>Number of examples.</summary>
    public int Count { get; private set; }

    /// <summary>Appends one example; both spans hold one entry per field.</summary>
    public void Add(ReadOnlySpan<uint> keys, ReadOnlySpan<float> values, bool label, float weight = 1)
    {
        if (keys.Length != Fields || values.Length != Fields)
        {
            Throw(nameof(keys), "one key and one value per field are needed");
        }

        if (!(weight >= 0) || !float.IsFinite(weight))
        {
            Throw(nameof(weight), "the weight must be finite and non-negative");
        }

        var row = Count;
        if ((row + 1) * Fields > _keys.Length)
        {
            var size = Math.Max((row + 1) * Fields, _keys.Length * 2);
            Array.Resize(ref _keys, size);
            Array.Resize(ref _values, size);
        }

        if (row + 1 > _labels.Length)
        {
            Array.Resize(ref _labels, _labels.Length * 2);
            Array.Resize(ref _weights, _labels.Length);
        }

        keys.CopyTo(_keys.AsSpan(row * Fields));
        values.CopyTo(_values.AsSpan(row * Fields));
        _labels[row] = label;
        _weights[row] = weight;
        Count = row + 1;
    }

    /// <summary>The keys of example <paramref name="row"/> (0 = missing field).</summary>
    public ReadOnlySpan<uint> Keys(int row) => _keys.AsSpan(Check(row) * Fields, Fields);

    /// <summary>The values of example <paramref name="row"/>.</summary>
    public ReadOnlySpan<float> Values(int row) => _values.AsSpan(Check(row) * Fields, Fields);

    public bool Label(int row) => _labels[Check(row)];

    public float Weight(int row) => _weights[Check(row)];

    private int Check(int row)
    {
        if ((uint)row >= (uint)Count)
        {
            Throw(nameof(row), "no such row");
        }

        return row;
    }

    [DoesNotReturn]
    private static void Throw(string name, string message) => throw new ArgumentException(message, name);
}
