using System.ComponentModel;
using System.Globalization;

namespace Presence.Internal;

/// <summary>
/// Converts text to a <see cref="ServerName"/> and back, so configuration binding (<c>"ServerName": "example.org"</c>)
/// and other <see cref="TypeDescriptor"/> users parse it with the grammar <see cref="ServerName.Parse"/> applies.
/// </summary>
internal sealed class ServerNameConverter : TypeConverter
{
    public override bool CanConvertFrom(ITypeDescriptorContext? context, Type sourceType)
        => sourceType == typeof(string) || base.CanConvertFrom(context, sourceType);

    public override bool CanConvertTo(ITypeDescriptorContext? context, Type? destinationType)
        => destinationType == typeof(string) || base.CanConvertTo(context, destinationType);

    public override object? ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value)
    {
        if (value is not string text)
        {
            return base.ConvertFrom(context, culture, value);
        }

        return ServerName.TryParse(text, out var name, out var error)
            ? name
            : throw new FormatException($"'{text}' is not a valid server name: {error}");
    }

    public override object? ConvertTo(ITypeDescriptorContext? context, CultureInfo? culture, object? value, Type destinationType)
        => destinationType == typeof(string) && value is ServerName name ? name.Value : base.ConvertTo(context, culture, value, destinationType);
}

/// <summary>Converts text to a <see cref="UserId"/> and back, with the grammar <see cref="UserId.Parse"/> applies.</summary>
internal sealed class UserIdConverter : TypeConverter
{
    public override bool CanConvertFrom(ITypeDescriptorContext? context, Type sourceType)
        => sourceType == typeof(string) || base.CanConvertFrom(context, sourceType);

    public override bool CanConvertTo(ITypeDescriptorContext? context, Type? destinationType)
        => destinationType == typeof(string) || base.CanConvertTo(context, destinationType);

    public override object? ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value)
    {
        if (value is not string text)
        {
            return base.ConvertFrom(context, culture, value);
        }

        return UserId.TryParse(text, out var user, out var error)
            ? user
            : throw new FormatException($"'{text}' is not a valid user ID: {error}");
    }

    public override object? ConvertTo(ITypeDescriptorContext? context, CultureInfo? culture, object? value, Type destinationType)
        => destinationType == typeof(string) && value is UserId user ? user.Value : base.ConvertTo(context, culture, value, destinationType);
}
