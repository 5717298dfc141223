using System.IO.Compression;
using System.Text;
using AdCtr.Learning.Features;
using AdCtr.Learning.Readers;
using static AdCtr.Learning.Tests.Readers.ReaderFixtures;

namespace AdCtr.Learning.Tests.Readers;

public class CriteoReaderTests
{
    /// <summary>
    /// Every kind of damage, one per line, with CRLF and empty lines, and a truncated last line:
    ///  1 good              2 empty             3 good (CRLF)        4 39 columns       5 label 2
    ///  6 I5 = abc          7 good              8 41 columns         9 empty (CRLF)     10 empty label
    ///  11 I1 = 1.5         12 C3 empty (good)  13 I13 = "-"         14 last line truncated to 13 columns, no newline
    /// </summary>
    private static string DamagedFixture()
    {
        var lines = new[]
        {
            CriteoLine(0) + "\n",
            "\n",
            CriteoLine(1) + "\r\n",
            CriteoLine(2)[..CriteoLine(2).LastIndexOf('\t')] + "\n",
            WithColumn(CriteoLine(3), 0, "2") + "\n",
            WithColumn(CriteoLine(4), 5, "abc") + "\n",
            CriteoLine(5) + "\n",
            CriteoLine(6) + "\textra\n",
            "\r\n",
            WithColumn(CriteoLine(7), 0, "") + "\n",
            WithColumn(CriteoLine(8), 1, "1.5") + "\n",
            WithColumn(CriteoLine(9), 16, "") + "\n",
            WithColumn(CriteoLine(10), 13, "-") + "\n",
            string.Join('\t', CriteoLine(11).Split('\t')[..13]),
        };
        return string.Concat(lines);
    }

    [Fact]
    public void TryRead_DamagedFixture_ExactCountsLineNumbersAndReasons()
    {
        var spec = CriteoSpec();
        using var reader = ExampleReaders.Open(Utf8(DamagedFixture()), LogFormat.Criteo, spec, ReaderOptions.Default);
        var rows = ReadAll(reader, spec);

        Assert.Equal(4, rows.Count);
        var stats = reader.Statistics;
        Assert.Equal(4, stats.GoodLines);
        Assert.Equal(8, stats.MalformedLines);
        Assert.Equal(2, stats.EmptyLines);
        Assert.Equal(14, reader.LineNumber);
        Assert.Equal(
            [
                new MalformedLine(4, "expected 40 tab-separated columns, got 39"),
                new MalformedLine(5, "label is not 0 or 1"),
                new MalformedLine(6, "column I5 is not an integer"),
                new MalformedLine(8, "expected 40 tab-separated columns, got 41"),
                new MalformedLine(10, "label is not 0 or 1"),
                new MalformedLine(11, "column I1 is not an integer"),
                new MalformedLine(13, "column I13 is not an integer"),
                new MalformedLine(14, "expected 40 tab-separated columns, got 13"),
            ],
            stats.FirstMalformed);
    }

    [Fact]
    public void TryRead_MoreMalformedThanReported_CountsAllKeepsFirstN()
    {
        var text = new StringBuilder();
        for (var i = 0; i < 50; i++)
        {
            text.Append(i % 2 == 0 ? "bad\n" : CriteoLine(i) + "\n");
        }

        var spec = CriteoSpec();
        using var reader = ExampleReaders.Open(Utf8(text.ToString()), LogFormat.Criteo, spec, new ReaderOptions { MaxReportedMalformed = 3 });
        Assert.Equal(25, ReadAll(reader, spec).Count);
        Assert.Equal(25, reader.Statistics.MalformedLines);
        Assert.Equal([1L, 3L, 5L], MalformedLineNumbers(reader.Statistics));
    }

    [Fact]
    public void TryRead_StrictMode_ThrowsWithLineNumberAfterGoodRows()
    {
        var spec = CriteoSpec();
        using var reader = ExampleReaders.Open(Utf8(DamagedFixture()), LogFormat.Criteo, spec, new ReaderOptions { Strict = true });
        var row = new RawRow(spec.Fields.Length);
        Assert.True(reader.TryRead(row));
        Assert.True(reader.TryRead(row));
        var e = Assert.Throws<MalformedLineException>(() => reader.TryRead(row));
        Assert.Equal(4, e.LineNumber);
        Assert.Equal("expected 40 tab-separated columns, got 39", e.Reason);
        Assert.Equal("line 4: expected 40 tab-separated columns, got 39", e.Message);
        Assert.Equal(1, reader.Statistics.MalformedLines);
    }

    [Fact]
    public void TryRead_GoodLine_ValuesLandInTheirSpecSlots()
    {
        // Columns: label 1, I1 = 5, I2 = -2, I3 empty, I4..I13 = 0..9; C1 = 68fd1e64, C2 empty, C3..C26 = c03..c26.
        var columns = new List<string> { "1", "5", "-2", "" };
        for (var i = 0; i < 10; i++)
        {
            columns.Add(i.ToString());
        }

        columns.Add("68fd1e64");
        columns.Add("");
        for (var c = 3; c <= 26; c++)
        {
            columns.Add("c" + c.ToString("00"));
        }

        // A spec in another order, without I4..I13 (ignored columns), with a field no column fills.
        var spec = Spec("C26", "I2", "C1", "unrelated", "I1", "C2", "I3");
        using var reader = ExampleReaders.Open(Utf8(string.Join('\t', columns) + "\n"), LogFormat.Criteo, spec, ReaderOptions.Default);
        var row = new RawRow(spec.Fields.Length);
        Assert.True(reader.TryRead(row));
        Assert.Equal(1f, row.Label);
        Assert.Equal(1f, row.Weight);
        Assert.Equal(0, row.TimestampMs);
        Assert.Equal("c26", row.GetString(0));
        Assert.Equal("-2", row.GetString(1));
        Assert.Equal("68fd1e64", row.GetString(2));
        Assert.False(row.IsPresent(3));
        Assert.Equal("5", row.GetString(4));
        Assert.False(row.IsPresent(5));
        Assert.False(row.IsPresent(6));
        Assert.False(reader.TryRead(row));
        Assert.Null(reader.TrueCtr);
    }

    [Fact]
    public void TryRead_RowFromPreviousLine_ClearedBeforeEachLine()
    {
        var first = WithColumn(CriteoLine(1), 14, "aaaaaaaa");
        var second = WithColumn(WithColumn(CriteoLine(1), 14, ""), 0, "0");
        var spec = CriteoSpec();
        using var reader = ExampleReaders.Open(Utf8(first + "\n" + second + "\n"), LogFormat.Criteo, spec, ReaderOptions.Default);
        var row = new RawRow(spec.Fields.Length);
        Assert.True(reader.TryRead(row));
        Assert.Equal("aaaaaaaa", row.GetString(13));
        Assert.True(reader.TryRead(row));
        Assert.False(row.IsPresent(13));
        Assert.Equal(0f, row.Label);
    }

    [Fact]
    public void TryRead_RowWithFewerFieldsThanSpec_Throws()
    {
        var spec = CriteoSpec();
        using var reader = ExampleReaders.Open(Utf8(CriteoLine(0)), LogFormat.Criteo, spec, ReaderOptions.Default);
        Assert.Throws<ArgumentException>(() => reader.TryRead(new RawRow(3)));
    }

    [Fact]
    public void TryRead_LongLines_GoodUnderTheLimitMalformedOverIt()
    {
        // Line 2 carries a 3000-byte C26 (about 3.2 KB in all, under the 4096 limit, far over the 64-byte
        // buffer); line 3 a 5000-byte one (over the limit): too long, skipped in constant memory.
        var spec = CriteoSpec();
        var text = CriteoLine(0) + "\n"
            + WithColumn(CriteoLine(1), 39, new string('f', 3000)) + "\n"
            + WithColumn(CriteoLine(2), 39, new string('f', 5000)) + "\n"
            + CriteoLine(3) + "\n";
        var options = new ReaderOptions { BufferBytes = 64, MaxLineBytes = 4096 };
        using var reader = ExampleReaders.Open(Utf8(text), LogFormat.Criteo, spec, options);
        var rows = ReadAll(reader, spec);
        Assert.Equal(3, rows.Count);
        Assert.Contains(new string('f', 3000), rows[1], StringComparison.Ordinal);
        Assert.Equal([new MalformedLine(3, "line longer than 4096 bytes")], reader.Statistics.FirstMalformed);
    }

    [Fact]
    public void OpenFile_GzipAndPlain_SameRows()
    {
        using var dir = new TempDir();
        var text = DamagedFixture() + "\n" + CriteoLine(100) + "\n";
        File.WriteAllText(dir.File("day.tsv"), text);
        using (var gz = new GZipStream(File.Create(dir.File("day.tsv.gz")), CompressionLevel.Fastest))
        {
            gz.Write(Encoding.UTF8.GetBytes(text));
        }

        var spec = CriteoSpec();
        List<string> plainRows, gzRows;
        long[] plainBad, gzBad;
        using (var plain = ExampleReaders.OpenFile(dir.File("day.tsv"), LogFormat.Criteo, spec, ReaderOptions.Default))
        {
            plainRows = ReadAll(plain, spec);
            plainBad = MalformedLineNumbers(plain.Statistics);
        }

        using (var zipped = ExampleReaders.OpenFile(dir.File("day.tsv.gz"), LogFormat.Criteo, spec, ReaderOptions.Default))
        {
            gzRows = ReadAll(zipped, spec);
            gzBad = MalformedLineNumbers(zipped.Statistics);
        }

        // The truncated line 14 is followed by a newline here and line 15 is a good row: 5 good rows.
        Assert.Equal(5, plainRows.Count);
        Assert.Equal(plainRows, gzRows);
        Assert.Equal(plainBad, gzBad);
    }

    [Fact]
    public void OpenFile_MissingFile_Throws()
    {
        using var dir = new TempDir();
        Assert.Throws<FileNotFoundException>(() => ExampleReaders.OpenFile(dir.File("none.tsv"), LogFormat.Criteo, CriteoSpec(), ReaderOptions.Default));
    }

    [Fact]
    public void TryRead_200kGeneratedRows_AllReadWithTheExpectedLabelsAndValues()
    {
        const int Rows = 200_000;
        var data = new MemoryStream();
        using (var writer = new StreamWriter(data, new UTF8Encoding(false), 1 << 16, leaveOpen: true))
        {
            for (var i = 0; i < Rows; i++)
            {
                writer.Write(CriteoLine(i));
                writer.Write('\n');
            }
        }

        data.Position = 0;
        var spec = CriteoSpec();
        using var reader = ExampleReaders.Open(data, LogFormat.Criteo, spec, new ReaderOptions { BufferBytes = 1 << 16 });
        var row = new RawRow(spec.Fields.Length);
        long count = 0, positives = 0, presentC1 = 0;
        while (reader.TryRead(row) && count <= Rows)
        {
            positives += (long)row.Label;
            presentC1 += row.IsPresent(13) ? 1 : 0;
            if (count == 123_456)
            {
                var columns = new string[40];
                columns[0] = row.Label.ToString();
                for (var f = 0; f < 39; f++)
                {
                    columns[f + 1] = row.GetString(f) ?? "";
                }

                Assert.Equal(CriteoLine(123_456), string.Join('\t', columns));
            }

            count++;
        }

        Assert.Equal(Rows, count);
        Assert.Equal(Rows, reader.Statistics.GoodLines);
        Assert.Equal(0, reader.Statistics.MalformedLines);

        // Label 1 when i % 3 == 0: ceil(200000 / 3) = 66667 rows. C1 (c = 1) is empty when (i + 1) % 11 == 0:
        // i = 10, 21, ..., 199998 -> floor(200001 / 11) = 18181 rows, so 200000 - 18181 present.
        Assert.Equal(66_667, positives);
        Assert.Equal(200_000 - 18_181, presentC1);
    }
}
