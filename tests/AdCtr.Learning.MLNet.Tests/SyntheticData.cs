using AdCtr.Learning.Batch;
using AdCtr.Learning.Tests.Support;

namespace AdCtr.Learning.MLNet.Tests;

/// <summary>
/// A small logistic world with fixed seeds: F categorical fields of C values each, one hashed feature per
/// (field, value) plus a bias, true logit = -2 + the sum of a weight per (field, value) + an interaction of
/// fields 0 and 1.
/// </summary>
internal sealed class SyntheticData
{
    public const int Bits = 12;
    public const int BiasIndex = 0;

    private readonly TestRandom _random;
    private readonly double[,] _effect;
    private readonly int _fields;
    private readonly int _values;

    public SyntheticData(ulong seed, int fields = 4, int values = 6)
    {
        _random = new TestRandom(seed);
        _fields = fields;
        _values = values;
        _effect = new double[fields, values];
        for (var f = 0; f < fields; f++)
        {
            for (var v = 0; v < values; v++)
            {
                _effect[f, v] = _random.NextGaussian() * 0.7;
            }
        }
    }

    public int Fields => _fields;

    /// <summary>Index of (field, value): 1 + f * values + v (0 is the bias).</summary>
    public int IndexOf(int f, int v) => 1 + (f * _values) + v;

    /// <summary>The key of (field, value) as a field hash (never 0).</summary>
    public static uint KeyOf(int f, int v) => (uint)(1000 + (f * 100) + v);

    public (int[] Values, int Label) Next()
    {
        var values = new int[_fields];
        var z = -2.0;
        for (var f = 0; f < _fields; f++)
        {
            values[f] = _random.Next(_values);
            z += _effect[f, values[f]];
        }

        z += values[0] == values[1] ? 1.0 : 0;
        var p = 1 / (1 + Math.Exp(-z));
        return (values, _random.NextDouble() < p ? 1 : 0);
    }

    public SparseDataset Dataset(int rows, List<(int[] Values, int Label)>? keep = null)
    {
        var data = new SparseDataset(1 << Bits);
        var idx = new int[_fields + 1];
        var val = new float[_fields + 1];
        for (var r = 0; r < rows; r++)
        {
            var (values, label) = Next();
            keep?.Add((values, label));
            idx[0] = BiasIndex;
            val[0] = 1;
            for (var f = 0; f < _fields; f++)
            {
                idx[f + 1] = IndexOf(f, values[f]);
                val[f + 1] = 1;
            }

            data.Add(idx, val, label);
        }

        return data;
    }

    public FieldTable Table(int rows)
    {
        var table = new FieldTable(_fields);
        var keys = new uint[_fields];
        var vals = new float[_fields];
        for (var r = 0; r < rows; r++)
        {
            var (values, label) = Next();
            for (var f = 0; f < _fields; f++)
            {
                keys[f] = KeyOf(f, values[f]);
                vals[f] = 1;
            }

            table.Add(keys, vals, label > 0);
        }

        return table;
    }

    /// <summary>The objective both trainers minimise: sum logloss + 0.5 L2 ||w||^2 without the bias.</summary>
    public static double Objective(SparseDataset data, float[] w, int bias, double l2)
    {
        double total = 0;
        for (var r = 0; r < data.Rows; r++)
        {
            double z = 0;
            var idx = data.RowIndices(r);
            var val = data.RowValues(r);
            for (var k = 0; k < idx.Length; k++)
            {
                z += w[idx[k]] * val[k];
            }

            total += data.Weight(r) * (Math.Max(z, 0) + Math.Log(1 + Math.Exp(-Math.Abs(z))) - (data.Label(r) * z));
        }

        double penalty = 0;
        for (var j = 0; j < w.Length; j++)
        {
            if (j != bias)
            {
                penalty += (double)w[j] * w[j];
            }
        }

        return total + (0.5 * l2 * penalty);
    }
}
