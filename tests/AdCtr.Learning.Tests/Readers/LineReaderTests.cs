using System.Text;
using AdCtr.Learning.Readers;

namespace AdCtr.Learning.Tests.Readers;

public class LineReaderTests
{
    /// <summary>All results as "L:text" or "TOO_LONG", with the line number of each.</summary>
    private static List<string> Lines(Stream stream, int bufferBytes, int maxLineBytes)
    {
        using var reader = new LineReader(stream, bufferBytes, maxLineBytes, leaveOpen: false);
        var lines = new List<string>();
        for (var guard = 0; guard < 100_000; guard++)
        {
            var result = reader.Next(out var line);
            if (result == LineResult.End)
            {
                return lines;
            }

            lines.Add(reader.LineNumber + ":" + (result == LineResult.TooLong ? "TOO_LONG" : Encoding.UTF8.GetString(line)));
        }

        throw new InvalidOperationException("the line reader does not end");
    }

    [Fact]
    public void Next_CrlfEmptyLinesAndFinalLineWithoutNewline_SplitsExactly()
    {
        var text = "a\r\n\nbb\n\r\nccc";
        var lines = Lines(ReaderFixtures.Utf8(text), 16, 64);
        Assert.Equal(["1:a", "2:", "3:bb", "4:", "5:ccc"], lines);
    }

    [Fact]
    public void Next_TrailingNewline_NoExtraEmptyLine()
    {
        Assert.Equal(["1:x", "2:y"], Lines(ReaderFixtures.Utf8("x\ny\n"), 16, 64));
        Assert.Empty(Lines(ReaderFixtures.Utf8(""), 16, 64));
    }

    [Fact]
    public void Next_ByteOrderMark_Skipped()
    {
        var bytes = new byte[] { 0xEF, 0xBB, 0xBF, (byte)'h', (byte)'i', (byte)'\n' };
        Assert.Equal(["1:hi"], Lines(new TrickleStream(bytes, 1), 16, 64));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(1000)]
    public void Next_LinesSpanningRefills_SameLinesWhateverTheChunking(int chunk)
    {
        // 200 lines of lengths 0..49 with a 16-byte buffer: most lines span several refills and grow the buffer.
        var expected = new List<string>();
        var text = new StringBuilder();
        for (var i = 0; i < 200; i++)
        {
            var line = new string((char)('a' + (i % 26)), i % 50);
            expected.Add((i + 1) + ":" + line);
            text.Append(line).Append(i % 2 == 0 ? "\n" : "\r\n");
        }

        var lines = Lines(new TrickleStream(Encoding.UTF8.GetBytes(text.ToString()), chunk), 16, 64);
        Assert.Equal(expected, lines);
    }

    [Fact]
    public void Next_LineLongerThanBuffer_GrowsUpToTheLimitAndReturnsIt()
    {
        var longLine = new string('x', 1000);
        using var reader = new LineReader(ReaderFixtures.Utf8("a\n" + longLine + "\nb"), 16, 1000, leaveOpen: false);
        Assert.Equal(LineResult.Line, reader.Next(out _));
        Assert.Equal(LineResult.Line, reader.Next(out var line));
        Assert.Equal(1000, line.Length);
        Assert.Equal(LineResult.Line, reader.Next(out line));
        Assert.Equal("b", Encoding.UTF8.GetString(line));

        // The buffer doubles from 16 and is capped at max + 2 = 1002 bytes (room for a CR and one byte over).
        Assert.Equal(1002, reader.BufferSize);
    }

    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n")]
    public void Next_LineOfExactlyTheLimit_Accepted(string newline)
    {
        var text = new string('y', 64) + newline + "z";
        Assert.Equal(["1:" + new string('y', 64), "2:z"], Lines(ReaderFixtures.Utf8(text), 16, 64));
    }

    [Theory]
    [InlineData(65, "\n")]
    [InlineData(65, "\r\n")]
    [InlineData(66, "\n")]
    [InlineData(5000, "\r\n")]
    public void Next_LineOverTheLimit_ReportedTooLongAndSkipped(int length, string newline)
    {
        var text = "a\n" + new string('y', length) + newline + "b\n";
        Assert.Equal(["1:a", "2:TOO_LONG", "3:b"], Lines(ReaderFixtures.Utf8(text), 16, 64));
    }

    [Fact]
    public void Next_TooLongFinalLineWithoutNewline_ReportedTooLong()
    {
        Assert.Equal(["1:a", "2:TOO_LONG"], Lines(ReaderFixtures.Utf8("a\n" + new string('y', 65)), 16, 64));
        Assert.Equal(["1:a", "2:TOO_LONG"], Lines(ReaderFixtures.Utf8("a\n" + new string('y', 500)), 16, 64));
    }
}
