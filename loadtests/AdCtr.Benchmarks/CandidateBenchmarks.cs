using AdCtr.Benchmarks.Workload;
using AdCtr.Learning.Features;
using AdCtr.Learning.Models;
using BenchmarkDotNet.Attributes;

namespace AdCtr.Benchmarks;

/// <summary>
/// Scoring in the shape of a request: <see cref="Candidates"/> candidate ads share one context (16 context
/// fields and 5 counts), so most of their global slots repeat within a request. Time is per candidate.
/// Allocation budget: 0 bytes.
/// </summary>
[MemoryDiagnoser]
public class CandidateBenchmarks
{
    /// <summary>Examples in the pool: 4,000 requests of 1 candidate or 80 requests of 50.</summary>
    public const int Pool = 4000;

    private GlmixModel _model = null!;
    private FeatureEncoder _encoder = null!;
    private RawRow[] _rows = [];
    private EncodedExample[] _encoded = [];
    private readonly EncodedExample _scratch = new();

    [Params(1, 50)]
    public int Candidates { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var learner = TrainedLearner.Create(Pool, Candidates);
        _model = learner.Model;
        _encoder = learner.Encoder;
        _rows = learner.Rows;
        _encoded = learner.Encoded;
        Console.WriteLine("// workload: " + learner.Describe());
    }

    /// <summary>Prediction of already encoded candidates.</summary>
    [Benchmark(OperationsPerInvoke = Pool)]
    public double PredictCandidates()
    {
        var encoded = _encoded;
        var sum = 0.0;
        for (var i = 0; i < encoded.Length; i++)
        {
            sum += _model.Predict(encoded[i]);
        }

        return sum;
    }

    /// <summary>The serving path per candidate: encode the raw row, then predict.</summary>
    [Benchmark(OperationsPerInvoke = Pool)]
    public double EncodeAndPredictCandidates()
    {
        var rows = _rows;
        var x = _scratch;
        var sum = 0.0;
        for (var i = 0; i < rows.Length; i++)
        {
            _encoder.Encode(rows[i], x);
            sum += _model.Predict(x);
        }

        return sum;
    }
}
