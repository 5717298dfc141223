namespace AdCtr.Learning.Readers;

/// <summary>What <see cref="LineReader.Next"/> found.</summary>
internal enum LineResult
{
    /// <summary>No more lines.</summary>
    End,

    /// <summary>A line (without its LF or CRLF), possibly empty.</summary>
    Line,

    /// <summary>A line longer than the limit; its bytes were discarded.</summary>
    TooLong,
}

/// <summary>
/// Splits a stream into lines over one reusable byte buffer refilled from the stream. A line that spans a
/// refill is moved to the front of the buffer; a line longer than the buffer grows it (doubling), up to the
/// maximum line length, past which the line is discarded up to its newline and reported as too long. LF or
/// CRLF line ends; a final line without a newline is returned; a UTF-8 byte order mark at the start is
/// skipped. No allocation once the buffer has reached its working size.
/// </summary>
internal sealed class LineReader : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly int _maxLineBytes;
    private byte[] _buffer;
    private int _start;     // first byte of the current (unread) line
    private int _end;       // end of valid data
    private int _scanned;   // bytes from _start already known to hold no LF
    private bool _eof;
    private bool _atStart = true;

    public LineReader(Stream stream, int bufferBytes, int maxLineBytes, bool leaveOpen)
    {
        _stream = stream;
        _leaveOpen = leaveOpen;
        _maxLineBytes = maxLineBytes;
        _buffer = new byte[bufferBytes];
    }

    /// <summary>1-based number of the last line returned (0 before the first).</summary>
    public long LineNumber { get; private set; }

    /// <summary>Current buffer size, for tests of the growth bound.</summary>
    public int BufferSize => _buffer.Length;

    public LineResult Next(out ReadOnlySpan<byte> line)
    {
        while (true)
        {
            var pending = _buffer.AsSpan(_start + _scanned, _end - _start - _scanned);
            var lf = pending.IndexOf((byte)'\n');
            if (lf >= 0)
            {
                var length = _scanned + lf;
                line = _buffer.AsSpan(_start, length);
                _start += length + 1;
                _scanned = 0;
                LineNumber++;
                if (line.Length > 0 && line[^1] == (byte)'\r')
                {
                    line = line[..^1];
                }

                return line.Length > _maxLineBytes ? Discarded(out line) : LineResult.Line;
            }

            _scanned = _end - _start;
            if (_eof)
            {
                if (_start == _end)
                {
                    line = default;
                    return LineResult.End;
                }

                // The final line has no newline.
                line = _buffer.AsSpan(_start, _end - _start);
                _start = _end;
                _scanned = 0;
                LineNumber++;
                if (line.Length > 0 && line[^1] == (byte)'\r')
                {
                    line = line[..^1];
                }

                return line.Length > _maxLineBytes ? Discarded(out line) : LineResult.Line;
            }

            if (_scanned > _maxLineBytes + 1)
            {
                // Longer than allowed even if its last byte is the CR of a CRLF: skip to the LF.
                SkipRestOfLine();
                LineNumber++;
                line = default;
                return LineResult.TooLong;
            }

            Fill();
        }
    }

    private static LineResult Discarded(out ReadOnlySpan<byte> line)
    {
        line = default;
        return LineResult.TooLong;
    }

    /// <summary>Moves the partial line to the front, grows the buffer if the line fills it, reads more.</summary>
    private void Fill()
    {
        var partial = _end - _start;
        if (_start > 0)
        {
            if (partial > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, partial);
            }

            _start = 0;
            _end = partial;
        }

        if (_end == _buffer.Length)
        {
            // +2: room for a CR and one byte past the limit, which is what tells a too-long line apart.
            var size = (int)Math.Min((long)_buffer.Length * 2, (long)_maxLineBytes + 2);
            Array.Resize(ref _buffer, size);
        }

        var read = _stream.Read(_buffer, _end, _buffer.Length - _end);
        if (read == 0)
        {
            _eof = true;
            return;
        }

        _end += read;
        if (_atStart)
        {
            SkipByteOrderMark();
        }
    }

    /// <summary>At the start of the stream: reads at least 3 bytes (or to the end) and skips a UTF-8 BOM.</summary>
    private void SkipByteOrderMark()
    {
        _atStart = false;
        while (_end < 3)
        {
            var read = _stream.Read(_buffer, _end, _buffer.Length - _end);
            if (read == 0)
            {
                return;
            }

            _end += read;
        }

        if (_buffer[0] == 0xEF && _buffer[1] == 0xBB && _buffer[2] == 0xBF)
        {
            _start = 3;
        }
    }

    /// <summary>Discards bytes up to and including the next LF (or the end of the stream).</summary>
    private void SkipRestOfLine()
    {
        _start = 0;
        _end = 0;
        _scanned = 0;
        while (true)
        {
            var read = _stream.Read(_buffer, 0, _buffer.Length);
            if (read == 0)
            {
                _eof = true;
                return;
            }

            var lf = _buffer.AsSpan(0, read).IndexOf((byte)'\n');
            if (lf >= 0)
            {
                _start = lf + 1;
                _end = read;
                return;
            }
        }
    }

    public void Dispose()
    {
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }
    }
}
