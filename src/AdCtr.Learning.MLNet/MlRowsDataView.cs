using Microsoft.ML;
using Microsoft.ML.Data;

namespace AdCtr.Learning.MLNet;

/// <summary>
/// An <see cref="IDataView"/> over <see cref="MlRows"/>: the getters copy a row's stored sparse entries into
/// ML.NET's <see cref="VBuffer{T}"/> (reusing its arrays), so a training pass costs no parsing and, once the
/// buffers have grown, no allocation. Shuffling (asked for by the FFM trainer) visits a random permutation.
/// </summary>
internal sealed class MlRowsDataView : IDataView
{
    private readonly MlRows _rows;
    private readonly int[] _sizes;

    public MlRowsDataView(MlRows rows, int[] sizes)
    {
        _rows = rows;
        _sizes = sizes;
        var builder = new DataViewSchema.Builder();
        builder.AddColumn("Label", BooleanDataViewType.Instance);
        builder.AddColumn("Weight", NumberDataViewType.Single);
        for (var c = 0; c < sizes.Length; c++)
        {
            builder.AddColumn(MlRows.ColumnName(c), new VectorDataViewType(NumberDataViewType.Single, sizes[c]));
        }

        Schema = builder.ToSchema();
    }

    public bool CanShuffle => true;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => _rows.Count;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(this, rand);

    // One cursor is a valid answer to a request for n (the caller must cope with fewer).
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [new Cursor(this, rand)];

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly MlRowsDataView _view;
        private readonly int[]? _order;
        private long _position = -1;
        private int _row = -1;

        public Cursor(MlRowsDataView view, Random? rand)
        {
            _view = view;
            if (rand is not null)
            {
                var n = view._rows.Count;
                _order = new int[n];
                for (var i = 0; i < n; i++)
                {
                    _order[i] = i;
                }

                for (var i = n - 1; i > 0; i--)
                {
                    var j = rand.Next(i + 1);
                    (_order[i], _order[j]) = (_order[j], _order[i]);
                }
            }
        }

        public override long Position => _position;

        public override long Batch => 0;

        public override DataViewSchema Schema => _view.Schema;

        public override bool MoveNext()
        {
            if (_position + 1 >= _view._rows.Count)
            {
                _row = -1;
                return false;
            }

            _position++;
            _row = _order is null ? (int)_position : _order[_position];
            return true;
        }

        public override bool IsColumnActive(DataViewSchema.Column column) => true;

        public override ValueGetter<DataViewRowId> GetIdGetter() =>
            (ref DataViewRowId value) => value = new DataViewRowId((ulong)_row, 0);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            Delegate getter = column.Index switch
            {
                0 => (ValueGetter<bool>)((ref bool value) => value = _view._rows.Label(_row)),
                1 => (ValueGetter<float>)((ref float value) => value = _view._rows.Weight(_row)),
                _ => VectorGetter(column.Index - 2),
            };
            return getter as ValueGetter<TValue>
                ?? throw new InvalidOperationException("column '" + column.Name + "' is not of type " + typeof(TValue).Name);
        }

        private ValueGetter<VBuffer<float>> VectorGetter(int feature)
        {
            var size = _view._sizes[feature];
            return (ref VBuffer<float> value) =>
            {
                var indices = _view._rows.Indices(_row, feature);
                var values = _view._rows.Values(_row, feature);
                var editor = VBufferEditor.Create(ref value, size, indices.Length, requireIndicesOnDense: true);
                values.CopyTo(editor.Values);
                indices.CopyTo(editor.Indices);
                value = editor.Commit();
            };
        }
    }
}
