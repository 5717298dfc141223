using AdCtr.Benchmarks.Workload;
using AdCtr.Learning.Features;
using AdCtr.Learning.Models;
using BenchmarkDotNet.Attributes;

namespace AdCtr.Benchmarks;

/// <summary>
/// The learner's hot paths on a Criteo-like workload (40 global + 15 campaign features, 2^22 slots,
/// 1,000 campaigns): each benchmark walks the whole pool of <see cref="Pool"/> distinct examples, so the
/// reported time is per example and the 32 MiB global table is touched at realistic, scattered slots.
/// Allocation budget: 0 bytes for every benchmark (checked by <see cref="AllocationBudgetColumn"/>).
/// </summary>
[MemoryDiagnoser]
public class LearnerBenchmarks
{
    public const int Pool = 4096;

    private TrainedLearner _learner = null!;
    private GlmixModel _model = null!;
    private FeatureEncoder _encoder = null!;
    private RawRow[] _rows = [];
    private EncodedExample[] _encoded = [];
    private float[] _labels = [];
    private readonly EncodedExample _scratch = new();

    [GlobalSetup]
    public void Setup()
    {
        _learner = TrainedLearner.Create(Pool);
        _model = _learner.Model;
        _encoder = _learner.Encoder;
        _rows = _learner.Rows;
        _encoded = _learner.Encoded;
        _labels = _learner.Labels;
        Console.WriteLine("// workload: " + _learner.Describe());
    }

    /// <summary>RawRow to EncodedExample: 26 field hashes, 15 cross hashes, 5 count buckets.</summary>
    [Benchmark(OperationsPerInvoke = Pool)]
    public int Encode()
    {
        var rows = _rows;
        var x = _scratch;
        var features = 0;
        for (var i = 0; i < rows.Length; i++)
        {
            _encoder.Encode(rows[i], x);
            features += x.Global.Count;
        }

        return features;
    }

    /// <summary>Global + campaign logit and sigmoid of an encoded example (campaign found by key).</summary>
    [Benchmark(OperationsPerInvoke = Pool)]
    public double Predict()
    {
        var encoded = _encoded;
        var sum = 0.0;
        for (var i = 0; i < encoded.Length; i++)
        {
            sum += _model.Predict(encoded[i]);
        }

        return sum;
    }

    /// <summary>One online step on an encoded example: predict, then FTRL update of both parts.</summary>
    [Benchmark(OperationsPerInvoke = Pool)]
    public double PredictAndUpdate()
    {
        var encoded = _encoded;
        var labels = _labels;
        var sum = 0.0;
        for (var i = 0; i < encoded.Length; i++)
        {
            sum += _model.Learn(encoded[i], labels[i]);
        }

        return sum;
    }

    /// <summary>The full online step from a raw row: encode, predict, update.</summary>
    [Benchmark(OperationsPerInvoke = Pool)]
    public double EncodePredictUpdate()
    {
        var rows = _rows;
        var x = _scratch;
        var sum = 0.0;
        for (var i = 0; i < rows.Length; i++)
        {
            var row = rows[i];
            _encoder.Encode(row, x);
            sum += _model.Learn(x, row.Label);
        }

        return sum;
    }
}
