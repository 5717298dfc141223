using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using AdCtr.Learning.Features;
using AdCtr.Learning.Readers;

namespace AdCtr.Simulator.Evaluation;

/// <summary>
/// Encoded chunks of a log, in file order, for the online evaluator's learner, with reading and encoding spread over
/// two threads. The learner calls <see cref="TryNext"/> and gives each chunk back with <see cref="Recycle"/>.
/// <para>
/// For formats whose lines parse independently (Criteo, see <see cref="BlockExampleReader"/>) the two threads share
/// the work: a block of lines is taken (filled from the file, in order, under a lock) and parsed and encoded by
/// whichever thread is free, the helper thread or the learner's own while its next chunk is not ready yet; the
/// learner learns the chunks in the order of their blocks. So the learner's thread is not left idle while the other
/// one reads and encodes, and the work divides itself between the cores by how fast each goes (reading and encoding
/// a row costs about twice as much as learning it). At most <see cref="Slots"/> chunks are in flight.
/// </para>
/// <para>Other formats: one thread reads and encodes in order, the learner's thread learns (a bounded hand-off).</para>
/// </summary>
internal sealed class EncodingPipeline : IDisposable
{
    /// <summary>Chunks in flight (taken, encoded or being learned); memory is about 1.4 MB per slot.</summary>
    private const int Slots = 8;

    private readonly Shared? _shared;
    private readonly SingleProducer? _single;

    private EncodingPipeline(Shared? shared, SingleProducer? single)
    {
        _shared = shared;
        _single = single;
    }

    /// <summary>Opens the log and starts the helper thread.</summary>
    public static EncodingPipeline Start(string path, LogFormat format, FeatureSpec spec, ReaderOptions options, CancellationToken ct)
    {
        var blocks = BlockExampleReader.TryOpen(path, format, spec, options);
        return blocks is not null
            ? new EncodingPipeline(new Shared(blocks, spec, ct), null)
            : new EncodingPipeline(null, new SingleProducer(ExampleReaders.OpenFile(path, format, spec, options), spec, ct));
    }

    /// <summary>The log's line count once <see cref="TryNext"/> has returned false.</summary>
    public long LineNumber => _shared is not null ? _shared.Reader.LineNumber : _single!.Reader.LineNumber;

    public ReaderStatistics Statistics => _shared is not null ? _shared.Reader.Statistics : _single!.Reader.Statistics;

    /// <summary>The next chunk in file order (not empty); false at the end of the log. Rethrows a reading or encoding error.</summary>
    public bool TryNext(out EncodedChunk chunk) => _shared is not null ? _shared.TryNext(out chunk) : _single!.TryNext(out chunk);

    /// <summary>Gives back the chunk last returned by <see cref="TryNext"/>, once learned.</summary>
    public void Recycle(EncodedChunk chunk)
    {
        if (_shared is not null)
        {
            _shared.Recycle();
        }
        else
        {
            _single!.Recycle(chunk);
        }
    }

    /// <summary>Stops the helper thread (it finishes the chunk in hand) and closes the log.</summary>
    public void Dispose()
    {
        _shared?.Dispose();
        _single?.Dispose();
    }

    /// <summary>Per thread: the scratch state of parsing and encoding.</summary>
    private sealed class Encoder(BlockLineParser parser, FeatureSpec spec)
    {
        private readonly FeatureEncoder _encoder = new(spec);
        private readonly RawRow _row = new(spec.Fields.Length);
        private readonly EncodedExample _x = new();

        public void Encode(LineBlock block, EncodedChunk chunk)
        {
            chunk.Clear();
            for (var i = 0; i < block.Count; i++)
            {
                if (parser.TryParse(block, i, _row))
                {
                    _encoder.Encode(_row, _x);
                    chunk.Add(_x, _row.Label, _row.Weight, block.LineNumber(i));
                }
            }
        }
    }

    /// <summary>One slot of the ring: a block of lines and its encoded chunk.</summary>
    private sealed class Work
    {
        public LineBlock Block { get; } = new(EncodedChunk.DefaultCapacity);

        public EncodedChunk Chunk { get; } = new();

        /// <summary>The block's position in the log (0, 1, ...); its slot is <c>Sequence % Slots</c>.</summary>
        public long Sequence = -1;

        /// <summary>Set (under the gate) once the chunk is encoded.</summary>
        public bool Ready;

        public Exception? Error;
    }

    private sealed class Shared : IDisposable
    {
        private readonly Work[] _ring = new Work[Slots];
        private readonly object _gate = new();
        private readonly FeatureSpec _spec;
        private readonly Encoder _learnerEncoder;
        private readonly Task _helper;
        private readonly CancellationToken _ct;

        // Guarded by _gate.
        private long _taken;     // blocks filled so far (the next block's sequence)
        private long _learned;   // blocks learned and recycled (the learner's next sequence)
        private bool _ended;     // the log has no more lines
        private bool _stopping;
        private Exception? _fillError;

        public Shared(BlockExampleReader reader, FeatureSpec spec, CancellationToken ct)
        {
            Reader = reader;
            _spec = spec;
            _ct = ct;
            for (var i = 0; i < Slots; i++)
            {
                _ring[i] = new Work();
            }

            _learnerEncoder = new Encoder(reader.CreateParser(), spec);
            var helperEncoder = new Encoder(reader.CreateParser(), spec);
            // Not cancelled by the token: the learner checks it, and stopping the helper goes through Dispose.
            _helper = Task.Factory.StartNew(() => Help(helperEncoder), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        public BlockExampleReader Reader { get; }

        public bool TryNext(out EncodedChunk chunk)
        {
            while (true)
            {
                _ct.ThrowIfCancellationRequested();
                Work next;
                lock (_gate)
                {
                    next = _ring[_learned % Slots];
                    if (next.Ready && next.Sequence == _learned)
                    {
                        // fall through to commit outside the lock
                    }
                    else if (_ended && _learned == _taken)
                    {
                        if (_fillError is not null)
                        {
                            ExceptionDispatchInfo.Throw(_fillError);
                        }

                        chunk = null!;
                        return false;
                    }
                    else
                    {
                        next = null!;
                    }
                }

                if (next is not null)
                {
                    if (next.Error is not null)
                    {
                        ExceptionDispatchInfo.Throw(next.Error);
                    }

                    Reader.Commit(next.Block);
                    if (next.Chunk.Count == 0)
                    {
                        Recycle();
                        continue;
                    }

                    chunk = next.Chunk;
                    return true;
                }

                // The next chunk is still being encoded by the helper: encode a later one meanwhile, or wait.
                if (!TryEncodeOne(_learnerEncoder))
                {
                    lock (_gate)
                    {
                        var wanted = _ring[_learned % Slots];
                        if (!(wanted.Ready && wanted.Sequence == _learned) && !(_ended && _learned == _taken))
                        {
                            Monitor.Wait(_gate);
                        }
                    }
                }
            }
        }

        public void Recycle()
        {
            lock (_gate)
            {
                var done = _ring[_learned % Slots];
                done.Ready = false;
                done.Sequence = -1;
                _learned++;
                Monitor.PulseAll(_gate);
            }
        }

        /// <summary>Takes the next block, fills, parses and encodes it; false when there is none to take now.</summary>
        private bool TryEncodeOne(Encoder encoder)
        {
            Work work;
            lock (_gate)
            {
                if (_ended || _stopping || _taken - _learned >= Slots)
                {
                    return false;
                }

                work = _ring[_taken % Slots];
                try
                {
                    if (!Reader.TryFill(work.Block))
                    {
                        _ended = true;
                        Monitor.PulseAll(_gate);
                        return false;
                    }
                }
                catch (Exception e)
                {
                    _fillError = e;
                    _ended = true;
                    Monitor.PulseAll(_gate);
                    return false;
                }

                work.Sequence = _taken++;
                work.Error = null;
            }

            try
            {
                encoder.Encode(work.Block, work.Chunk);
            }
            catch (Exception e)
            {
                work.Error = e;
            }

            lock (_gate)
            {
                work.Ready = true;
                Monitor.PulseAll(_gate);
            }

            return true;
        }

        private void Help(Encoder encoder)
        {
            while (true)
            {
                if (TryEncodeOne(encoder))
                {
                    continue;
                }

                lock (_gate)
                {
                    if (_ended || _stopping)
                    {
                        return;
                    }

                    if (_taken - _learned >= Slots)
                    {
                        Monitor.Wait(_gate); // woken when the learner recycles a chunk
                    }
                }
            }
        }

        public void Dispose()
        {
            lock (_gate)
            {
                _stopping = true;
                Monitor.PulseAll(_gate);
            }

            _helper.GetAwaiter().GetResult();
            Reader.Dispose();
        }
    }

    /// <summary>Formats read line by line: one thread reads and encodes in order, a bounded hand-off to the learner.</summary>
    private sealed class SingleProducer : IDisposable
    {
        private readonly Channel<EncodedChunk> _full = Channel.CreateBounded<EncodedChunk>(new BoundedChannelOptions(4) { SingleReader = true, SingleWriter = true });
        private readonly Channel<EncodedChunk> _free = Channel.CreateUnbounded<EncodedChunk>();
        private readonly Task _producer;
        private readonly CancellationToken _ct;

        public SingleProducer(IExampleReader reader, FeatureSpec spec, CancellationToken ct)
        {
            Reader = reader;
            _ct = ct;
            for (var i = 0; i < 6; i++)
            {
                _free.Writer.TryWrite(new EncodedChunk());
            }

            _producer = Task.Run(() => Produce(reader, spec, _full.Writer, _free.Reader, ct), ct);
        }

        public IExampleReader Reader { get; }

        public bool TryNext(out EncodedChunk chunk)
        {
            while (_full.Reader.WaitToReadAsync(_ct).AsTask().GetAwaiter().GetResult())
            {
                if (_full.Reader.TryRead(out chunk!))
                {
                    return true;
                }
            }

            chunk = null!;
            return false;
        }

        public void Recycle(EncodedChunk chunk)
        {
            chunk.Clear();
            _free.Writer.TryWrite(chunk);
        }

        public void Dispose()
        {
            _free.Writer.TryComplete();
            try
            {
                _producer.GetAwaiter().GetResult();
            }
            finally
            {
                Reader.Dispose();
            }
        }

        private static void Produce(IExampleReader reader, FeatureSpec spec, ChannelWriter<EncodedChunk> full, ChannelReader<EncodedChunk> free, CancellationToken ct)
        {
            var encoder = new FeatureEncoder(spec);
            var row = new RawRow(spec.Fields.Length);
            var x = new EncodedExample();
            Exception? error = null;
            try
            {
                EncodedChunk? chunk = null;
                while (reader.TryRead(row))
                {
                    if (chunk is null)
                    {
                        free.WaitToReadAsync(ct).AsTask().GetAwaiter().GetResult();
                        free.TryRead(out chunk);
                        if (chunk is null)
                        {
                            return;
                        }
                    }

                    encoder.Encode(row, x);
                    chunk.Add(x, row.Label, row.Weight, reader.LineNumber);
                    if (chunk.IsFull)
                    {
                        full.WriteAsync(chunk, ct).AsTask().GetAwaiter().GetResult();
                        chunk = null;
                    }
                }

                if (chunk is { Count: > 0 })
                {
                    full.WriteAsync(chunk, ct).AsTask().GetAwaiter().GetResult();
                }
            }
            catch (Exception e)
            {
                error = e;
            }
            finally
            {
                full.TryComplete(error);
            }
        }
    }
}
