using System.Text;
using AdCtr.Learning.Features;
using AdCtr.Learning.Readers;

namespace AdCtr.Learning.Tests.Readers;

/// <summary>Specs, fixture builders and a temp directory shared by the reader tests (no shared state).</summary>
internal static class ReaderFixtures
{
    public static FeatureSpec Spec(params string[] names)
    {
        var fields = new FieldSpec[names.Length];
        for (var i = 0; i < names.Length; i++)
        {
            fields[i] = new FieldSpec { Name = names[i] };
        }

        return new FeatureSpec { Name = "test", Fields = fields };
    }

    /// <summary>The full Criteo spec: I1..I13 then C1..C26, so field i-1 holds column i.</summary>
    public static FeatureSpec CriteoSpec()
    {
        var names = new string[39];
        for (var i = 0; i < 13; i++)
        {
            names[i] = "I" + (i + 1);
        }

        for (var i = 0; i < 26; i++)
        {
            names[13 + i] = "C" + (i + 1);
        }

        return Spec(names);
    }

    /// <summary>
    /// A deterministic well-formed Criteo line shaped like the real data: 13 small integers and 26 categoricals
    /// of 8 hex digits, with some columns empty. Row <paramref name="i"/> has label i % 3 == 0 ? 1 : 0.
    /// </summary>
    public static string CriteoLine(int i)
    {
        var text = new StringBuilder();
        text.Append(i % 3 == 0 ? '1' : '0');
        for (var c = 1; c <= 13; c++)
        {
            text.Append('\t');
            if ((i + c) % 7 != 0)
            {
                text.Append(((i * 31) + (c * 17)) % 500 - (c == 2 ? 3 : 0));
            }
        }

        for (var c = 1; c <= 26; c++)
        {
            text.Append('\t');
            if ((i + c) % 11 != 0)
            {
                text.Append(((uint)((i * 2654435761u) ^ (uint)(c * 40503))).ToString("x8"));
            }
        }

        return text.ToString();
    }

    /// <summary>Replaces column <paramref name="column"/> (0 = label) of a Criteo line.</summary>
    public static string WithColumn(string line, int column, string value)
    {
        var parts = line.Split('\t');
        parts[column] = value;
        return string.Join('\t', parts);
    }

    public static MemoryStream Utf8(string text) => new(Encoding.UTF8.GetBytes(text));

    /// <summary>Reads every good row, returning a string rendering of each (label, weight, time, fields).</summary>
    public static List<string> ReadAll(IExampleReader reader, FeatureSpec spec)
    {
        var row = new RawRow(spec.Fields.Length);
        var rows = new List<string>();
        var guard = 0;
        while (reader.TryRead(row))
        {
            rows.Add(Render(row, spec));
            Assert.True(++guard <= 10_000_000, "reader does not end");
        }

        return rows;
    }

    public static string Render(RawRow row, FeatureSpec spec)
    {
        var text = new StringBuilder();
        text.Append(row.Label).Append('|').Append(row.Weight).Append('|').Append(row.TimestampMs);
        for (var f = 0; f < spec.Fields.Length; f++)
        {
            text.Append('|').Append(row.GetString(f) ?? "<missing>");
        }

        return text.ToString();
    }

    public static long[] MalformedLineNumbers(ReaderStatistics statistics)
    {
        var numbers = new long[statistics.FirstMalformed.Count];
        for (var i = 0; i < numbers.Length; i++)
        {
            numbers[i] = statistics.FirstMalformed[i].LineNumber;
        }

        return numbers;
    }
}

/// <summary>A temp directory owned by one test, deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "adctr-readers-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

/// <summary>A stream that hands out at most <c>chunk</c> bytes per Read, like a pipe or a decompressor.</summary>
internal sealed class TrickleStream(byte[] data, int chunk) : Stream
{
    private int _position;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => data.Length;

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        var n = Math.Min(Math.Min(count, chunk), data.Length - _position);
        Array.Copy(data, _position, buffer, offset, n);
        _position += n;
        return n;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>FsCheck configuration with a fixed seed, so property tests draw the same cases on every run.</summary>
internal static class FixedSeed
{
    public static FsCheck.Config Config(ulong seed, int maxTest = 1000) =>
        FsCheck.Config.QuickThrowOnFailure.WithReplay(
            Microsoft.FSharp.Core.FSharpOption<FsCheck.Replay>.Some(
                new FsCheck.Replay(new FsCheck.Rnd(seed), Microsoft.FSharp.Core.FSharpOption<int>.None))).WithMaxTest(maxTest);
}
