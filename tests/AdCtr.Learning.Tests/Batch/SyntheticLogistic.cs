using AdCtr.Learning.Batch;

namespace AdCtr.Learning.Tests.Batch;

/// <summary>Data drawn from a known sparse logistic model over a hashed 2^22 feature space.</summary>
internal sealed class SyntheticLogistic
{
    public const int Dimension = 1 << 22;
    public const int BiasIndex = 4_000_001;

    private readonly int[] _featureIndex;
    private readonly double[] _trueWeights;
    private readonly double _trueBias;

    public SyntheticLogistic(int features, int seed)
    {
        var rng = new Random(seed);
        _featureIndex = new int[features];
        _trueWeights = new double[features];
        for (var j = 0; j < features; j++)
        {
            // Spread over the hashed space (distinct, none equal to the bias index).
            _featureIndex[j] = (int)((uint)(j + 1) * 2654435761u % Dimension);
            _trueWeights[j] = 0.7 * Gaussian(rng);
        }

        _trueBias = -1.5;
    }

    public static double Gaussian(Random rng)
    {
        var u1 = 1 - rng.NextDouble();
        var u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    public static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));

    /// <summary>Draws rows; each has the bias and about 30% of the features with N(0, 1) values.</summary>
    public (SparseDataset Data, double[] TrueP) Draw(int rows, int seed)
    {
        var rng = new Random(seed);
        var data = new SparseDataset(Dimension);
        var trueP = new double[rows];
        var idx = new List<int>();
        var val = new List<float>();
        for (var r = 0; r < rows; r++)
        {
            idx.Clear();
            val.Clear();
            idx.Add(BiasIndex);
            val.Add(1f);
            var z = _trueBias;
            for (var j = 0; j < _featureIndex.Length; j++)
            {
                if (rng.NextDouble() < 0.3)
                {
                    var v = (float)Gaussian(rng);
                    idx.Add(_featureIndex[j]);
                    val.Add(v);
                    z += _trueWeights[j] * v;
                }
            }

            trueP[r] = Sigmoid(z);
            data.Add(idx.ToArray(), val.ToArray(), rng.NextDouble() < trueP[r] ? 1 : 0, 1f);
        }

        return (data, trueP);
    }

    public static double LogLoss(SparseDataset data, Func<int, double> p)
    {
        double sum = 0, weight = 0;
        for (var r = 0; r < data.Rows; r++)
        {
            var q = Math.Clamp(p(r), 1e-15, 1 - 1e-15);
            sum += data.Weight(r) * (data.Label(r) == 1 ? -Math.Log(q) : -Math.Log(1 - q));
            weight += data.Weight(r);
        }

        return sum / weight;
    }

    /// <summary>Gradient of the trainer's objective divided by the total weight, in doubles, full dimension.</summary>
    public static double GradientNorm(SparseDataset data, float[] w, double l2, int? bias)
    {
        var g = new Dictionary<int, double>();
        double weight = 0;
        for (var r = 0; r < data.Rows; r++)
        {
            var idx = data.RowIndices(r);
            var val = data.RowValues(r);
            double z = 0;
            for (var k = 0; k < idx.Length; k++)
            {
                z += (double)w[idx[k]] * val[k];
            }

            var d = data.Weight(r) * (Sigmoid(z) - data.Label(r));
            for (var k = 0; k < idx.Length; k++)
            {
                g[idx[k]] = g.GetValueOrDefault(idx[k]) + d * val[k];
            }

            weight += data.Weight(r);
        }

        double norm2 = 0;
        foreach (var (j, gj) in g)
        {
            var total = gj + (j == bias ? 0 : l2 * w[j]);
            norm2 += total * total;
        }

        return Math.Sqrt(norm2) / weight;
    }
}
