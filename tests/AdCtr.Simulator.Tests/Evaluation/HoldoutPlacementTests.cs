using System.Text;
using AdCtr.Learning.Evaluation;
using AdCtr.Learning.Features;
using AdCtr.Learning.Models;
using AdCtr.Learning.Readers;
using AdCtr.Simulator.Evaluation;

namespace AdCtr.Simulator.Tests.Evaluation;

/// <summary>
/// The online evaluator places the holdout after its pass (from the reader's line count) instead of counting
/// lines first: the held-out examples and every figure must be those of the count-first method.
/// </summary>
public sealed class HoldoutPlacementTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("adctr-sim-holdout-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// 3,000 Criteo lines with damage spread over the file: empty lines (LF and CRLF), CRLF endings, malformed
    /// lines (bad label, 39 columns, non-integer count), empty fields, and a last line without a newline.
    /// </summary>
    private string DamagedCriteoFile(bool finalNewline)
    {
        var rng = new Random(42);
        var text = new StringBuilder();
        for (var i = 0; i < 3000; i++)
        {
            switch (i % 97)
            {
                case 5:
                    text.Append('\n');
                    continue;
                case 11:
                    text.Append("\r\n");
                    continue;
                case 23:
                    text.Append("2\tbad\n");
                    continue;
            }

            var columns = new string[40];
            columns[0] = rng.Next(4) == 0 ? "1" : "0";
            for (var c = 1; c <= 13; c++)
            {
                columns[c] = rng.Next(8) == 0 ? "" : rng.Next(-2, 3000).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            for (var c = 14; c < 40; c++)
            {
                columns[c] = rng.Next(8) == 0 ? "" : rng.Next(0, 40 + (c * 3)).ToString("x8", System.Globalization.CultureInfo.InvariantCulture);
            }

            if (i % 97 == 31)
            {
                columns[3] = "1.5";
            }

            text.Append(string.Join('\t', i % 97 == 47 ? columns[..39] : columns));
            text.Append(i % 3 == 0 ? "\r\n" : "\n");
        }

        var path = Path.Combine(_dir, finalNewline ? "with-newline.tsv" : "without-newline.tsv");
        var content = text.ToString();
        File.WriteAllText(path, finalNewline ? content : content.TrimEnd('\r', '\n'));
        return path;
    }

    /// <summary>The method the evaluator used before: count the lines, then hold out examples by line number.</summary>
    private static (BinaryMetrics Progressive, BinaryMetrics Holdout, long HoldoutExamples) CountFirst(string path, EvalSettings s)
    {
        var firstHoldoutLine = OfflineEvaluator.FirstHoldoutLine(OfflineEvaluator.CountLines(path), s.Holdout);
        using var reader = ExampleReaders.OpenFile(path, LogFormat.Criteo, s.Spec);
        var encoder = new FeatureEncoder(s.Spec);
        var model = new GlmixModel(s.Spec.Bits, s.Global, s.Campaign, s.CampaignAdmission);
        var row = new RawRow(s.Spec.Fields.Length);
        var x = new EncodedExample();
        var progressive = new MetricsAccumulator();
        var holdout = new MetricsAccumulator();
        while (reader.TryRead(row))
        {
            encoder.Encode(row, x);
            var p = model.Learn(x, row.Label, row.Weight);
            var label = row.Label > 0 ? 1 : 0;
            progressive.Add(p, label, row.Weight);
            if (reader.LineNumber >= firstHoldoutLine)
            {
                holdout.Add(p, label, row.Weight);
            }
        }

        return (progressive.Compute(), holdout.Compute(), holdout.Count);
    }

    [Theory]
    [InlineData(1, true, 0.2)]
    [InlineData(2, true, 0.2)]
    [InlineData(1, false, 0.33)]
    [InlineData(2, false, 0.33)]
    [InlineData(2, true, 0.0)]
    public void Run_DamagedFile_HoldoutAndFiguresEqualCountFirstMethod(int threads, bool finalNewline, double holdout)
    {
        var path = DamagedCriteoFile(finalNewline);
        var settings = new EvalSettings { Spec = SpecResolver.Resolve(null, LogFormat.Criteo, 18), Holdout = holdout, Threads = threads };
        var expected = CountFirst(path, settings);

        var result = OfflineEvaluator.Run(path, LogFormat.Criteo, settings);

        Assert.True(result.MalformedLines > 0);
        Assert.Equal(expected.HoldoutExamples, result.HoldoutExamples);
        Assert.Equal(expected.Progressive, result.Progressive);
        Assert.Equal(expected.Holdout, result.Holdout);
    }

    [Fact]
    public void ExampleLines_SkippedLines_FindsFirstExampleAtOrAfterEveryLine()
    {
        // Examples on lines 1, 2, 3, 7, 8, 20 (lines 4-6 and 9-19 skipped).
        int[] exampleLines = [1, 2, 3, 7, 8, 20];
        var lines = new ExampleLines();
        foreach (var line in exampleLines)
        {
            lines.Add(line);
        }

        for (var line = 0; line <= 22; line++)
        {
            var expected = Array.FindIndex(exampleLines, l => l >= line);
            Assert.Equal(expected < 0 ? exampleLines.Length : expected, lines.FirstExampleAtOrAfter(line));
        }

        for (var e = 0; e < exampleLines.Length; e++)
        {
            Assert.Equal(exampleLines[e], lines.LineOf(e));
        }
    }

    [Fact]
    public void ExampleLines_NoExamples_FirstExampleIsZero()
    {
        Assert.Equal(0, new ExampleLines().FirstExampleAtOrAfter(1));
    }

    [Fact]
    public void EstimateLines_EqualLines_AtLeastTheCountAtMostFivePercentMore()
    {
        // 100,000 lines of 20 bytes (2 MB, so the estimate extrapolates from the first MiB).
        var path = Path.Combine(_dir, "equal.tsv");
        File.WriteAllText(path, string.Concat(Enumerable.Repeat("0123456789abcdefghi\n", 100_000)));
        Assert.InRange(OfflineEvaluator.EstimateLines(path), 100_000, (100_000 * 105 / 100) + 64);
    }

    [Fact]
    public void EstimateLines_EmptyFileGzipOrStandardInput_Zero()
    {
        var empty = Path.Combine(_dir, "empty.tsv");
        File.WriteAllText(empty, "");
        Assert.Equal(0, OfflineEvaluator.EstimateLines(empty));
        Assert.Equal(0, OfflineEvaluator.EstimateLines(Path.Combine(_dir, "missing.tsv.gz")));
        Assert.Equal(0, OfflineEvaluator.EstimateLines("-"));
    }
}
