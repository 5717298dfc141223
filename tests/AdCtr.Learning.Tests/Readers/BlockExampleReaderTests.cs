using System.Text;
using AdCtr.Learning.Features;
using AdCtr.Learning.Readers;
using static AdCtr.Learning.Tests.Readers.ReaderFixtures;

namespace AdCtr.Learning.Tests.Readers;

/// <summary>
/// Reading in blocks parsed by several parsers must give what <see cref="IExampleReader.TryRead"/> gives on the same
/// log: the same rows with the same line numbers, the same statistics and malformed-line reports, the same strict-mode
/// exception.
/// </summary>
public class BlockExampleReaderTests
{
    /// <summary>
    /// 300 lines with damage of every kind spread over them (empty LF and CRLF lines, bad labels, 39 and 41 columns,
    /// non-integer counts, a line over the length limit), CRLF endings, and a last line without a newline.
    /// </summary>
    private static string DamagedLog()
    {
        var text = new StringBuilder();
        for (var i = 0; i < 300; i++)
        {
            var line = CriteoLine(i);
            switch (i % 23)
            {
                case 3: line = ""; break;
                case 5: line = "\r"; break;
                case 7: line = WithColumn(line, 0, "2"); break;
                case 11: line = line[..line.LastIndexOf('\t')]; break;
                case 13: line += "\textra"; break;
                case 17: line = WithColumn(line, 4, "1.5"); break;
                case 19: line = WithColumn(line, 20, new string('x', 300)); break; // too long with MaxLineBytes 256
            }

            text.Append(line).Append(i == 299 ? "" : i % 4 == 0 ? "\r\n" : "\n");
        }

        return text.ToString();
    }

    private static (List<string> Rows, ReaderStatistics Stats, long Lines) Sequential(string log, ReaderOptions options)
    {
        var spec = CriteoSpec();
        using var reader = ExampleReaders.Open(Utf8(log), LogFormat.Criteo, spec, options);
        var rows = new List<string>();
        var row = new RawRow(spec.Fields.Length);
        while (reader.TryRead(row))
        {
            rows.Add(reader.LineNumber + ":" + Render(row, spec));
        }

        return (rows, reader.Statistics, reader.LineNumber);
    }

    /// <summary>Fills every block first, then parses them with two parsers taking blocks alternately, then commits in order.</summary>
    private static (List<string> Rows, ReaderStatistics Stats, long Lines) InBlocks(string log, ReaderOptions options, int maxLines, int maxBytes)
    {
        var spec = CriteoSpec();
        using var reader = BlockExampleReader.TryOpen(Utf8(log), LogFormat.Criteo, spec, options)!;
        var blocks = new List<LineBlock>();
        while (true)
        {
            var block = new LineBlock(maxLines, maxBytes);
            if (!reader.TryFill(block))
            {
                break;
            }

            blocks.Add(block);
        }

        BlockLineParser[] parsers = [reader.CreateParser(), reader.CreateParser()];
        var parsed = new List<string>[blocks.Count];
        var row = new RawRow(spec.Fields.Length);
        for (var b = blocks.Count - 1; b >= 0; b--)
        {
            parsed[b] = [];
            for (var i = 0; i < blocks[b].Count; i++)
            {
                if (parsers[b % 2].TryParse(blocks[b], i, row))
                {
                    parsed[b].Add(blocks[b].LineNumber(i) + ":" + Render(row, spec));
                }
            }
        }

        var rows = new List<string>();
        for (var b = 0; b < blocks.Count; b++)
        {
            reader.Commit(blocks[b]);
            rows.AddRange(parsed[b]);
        }

        return (rows, reader.Statistics, reader.LineNumber);
    }

    [Theory]
    [InlineData(1, 1 << 16)]
    [InlineData(3, 1 << 16)]
    [InlineData(2048, 1 << 16)]
    [InlineData(2048, 600)]   // the byte budget ends blocks after a line or two
    [InlineData(2048, 16)]
    public void Blocks_DamagedLog_SameRowsLineNumbersStatisticsAndReports(int maxLines, int maxBytes)
    {
        var options = new ReaderOptions { BufferBytes = 64, MaxLineBytes = 256, MaxReportedMalformed = 30 };
        var log = DamagedLog();
        var expected = Sequential(log, options);

        var actual = InBlocks(log, options, maxLines, maxBytes);

        Assert.True(expected.Stats.MalformedLines > 40);
        Assert.Equal(expected.Rows, actual.Rows);
        Assert.Equal(expected.Lines, actual.Lines);
        Assert.Equal(expected.Stats.GoodLines, actual.Stats.GoodLines);
        Assert.Equal(expected.Stats.EmptyLines, actual.Stats.EmptyLines);
        Assert.Equal(expected.Stats.MalformedLines, actual.Stats.MalformedLines);
        Assert.Equal(expected.Stats.FirstMalformed, actual.Stats.FirstMalformed);
    }

    [Fact]
    public void Commit_StrictMode_ThrowsAtTheFirstMalformedLineLikeTryRead()
    {
        var options = new ReaderOptions { Strict = true, BufferBytes = 64, MaxLineBytes = 256 };
        var log = DamagedLog();
        var sequential = Assert.Throws<MalformedLineException>(() => Sequential(log, options));

        var blocks = Assert.Throws<MalformedLineException>(() => InBlocks(log, options, 4, 1 << 16));

        Assert.Equal(sequential.LineNumber, blocks.LineNumber);
        Assert.Equal(sequential.Reason, blocks.Reason);
    }

    [Fact]
    public void TryFill_EmptyLog_FalseAndNoLines()
    {
        using var reader = BlockExampleReader.TryOpen(Utf8(""), LogFormat.Criteo, CriteoSpec())!;
        Assert.False(reader.TryFill(new LineBlock()));
        Assert.Equal(0, reader.LineNumber);
    }

    [Theory]
    [InlineData(LogFormat.Avazu)]
    [InlineData(LogFormat.AdCtrJson)]
    [InlineData(LogFormat.Csv)]
    public void TryOpen_FormatWithHeaderOrState_Null(LogFormat format)
    {
        Assert.False(BlockExampleReader.SupportsBlocks(format));
        Assert.Null(BlockExampleReader.TryOpen(Utf8(""), format, CriteoSpec()));
    }
}
