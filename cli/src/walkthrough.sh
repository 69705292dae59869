# The walk-through that `cartflow dev` prints and the README shows: this file is its one
# source. {cart}, {order}, … stand for the services' addresses (cli/src/walkthrough.rs);
# a test checks that the README's copy is this file with the local defaults, and the
# end-to-end test walkthrough::* runs it against a seeded platform.
C=550e8400-e29b-41d4-a716-446655440000   # John Smith, a demo customer (locally X-Customer-Id says who calls)
# How a checkout pays (a test card of the local payment sandbox: a token, never a card number) and where it ships
PAY='{"payment_method":"pm_card_visa","shipping_address":{"name":"John Smith","line1":"1 Market Street","city":"Springfield","postal_code":"12345","country":"US"}}'
# Two lines, then check out
curl -s -w '\n' -X POST {cart}/cart/items -H "X-Customer-Id: $C" -H 'Content-Type: application/json' -d '{"product_sku":"KB-101","quantity":1}'
curl -s -w '\n' -X POST {cart}/cart/items -H "X-Customer-Id: $C" -H 'Content-Type: application/json' -d '{"product_sku":"MS-201","quantity":2}'
curl -s -w '\n' -X POST {cart}/cart/convert-to-order -H "X-Customer-Id: $C" -H 'Content-Type: application/json' -d "$PAY"   # 202 {"cart_id":…,"checkout_id":…,"checkout_expires_at":…,"status":"checkout_pending"}
sleep 1                                                                          # the saga takes ~0.1 s on the emulator
curl -s -w '\n' {cart}/cart -H "X-Customer-Id: $C"                               # "status":"converted","order_id":…
curl -s -w '\n' {order}/orders -H "X-Customer-Id: $C"                     # John's only: "status":"confirmed","total_cents":14997
curl -s -w '\n' {inventory}/inventory/KB-101                                          # "quantity":49,"reserved":1

# More lamps than exist: the checkout ends stock_unavailable, nothing is reserved
D=550e8400-e29b-41d4-a716-446655440001   # Jane Doe
curl -s -w '\n' -X POST {cart}/cart/items -H "X-Customer-Id: $D" -H 'Content-Type: application/json' -d '{"product_sku":"LP-601","quantity":5}'
curl -s -w '\n' -X POST {cart}/cart/convert-to-order -H "X-Customer-Id: $D" -H 'Content-Type: application/json' -d "$PAY"
sleep 1
curl -s -w '\n' {cart}/cart -H "X-Customer-Id: $D"
#   "status":"stock_unavailable","rejection":{"reason":"insufficient_stock","details":[{"product_sku":"LP-601","requested":5,"available":2}]}
# Edit and retry: the cart is unlocked
curl -s -w '\n' -X DELETE {cart}/cart/items/LP-601 -H "X-Customer-Id: $D"
curl -s -w '\n' -X POST {cart}/cart/items -H "X-Customer-Id: $D" -H 'Content-Type: application/json' -d '{"product_sku":"LP-601","quantity":2}'
curl -s -w '\n' -X POST {cart}/cart/convert-to-order -H "X-Customer-Id: $D" -H 'Content-Type: application/json' -d "$PAY"

# Cancel John's order: the stock comes back, once; a second cancel is 409
ORDER=$(curl -s {order}/orders -H "X-Customer-Id: $C" | sed -n 's/^{"items":\[{"id":"\([^"]*\)".*/\1/p')
curl -s -w '\n' -X POST {order}/orders/$ORDER/cancel -H "X-Customer-Id: $D"     # 404: not Jane's to see, or to cancel
curl -s -w '\n' -X POST {order}/orders/$ORDER/cancel -H "X-Customer-Id: $C" -H 'Content-Type: application/json' -d '{"reason":"changed my mind"}'
curl -s -w '\n' -X POST {order}/orders/$ORDER/cancel -H "X-Customer-Id: $C"     # 409 problem+json
curl -s -w '\n' {payment}/payments -H "X-Customer-Id: $C"                   # captured at the order, then "status":"refunded"

# A declined card: the reserved stock goes back, the cart is open to pay another way
E=550e8400-e29b-41d4-a716-446655440003   # Emily Davis
curl -s -w '\n' -X POST {cart}/cart/items -H "X-Customer-Id: $E" -H 'Content-Type: application/json' -d '{"product_sku":"KB-101","quantity":1}'
curl -s -w '\n' -X POST {cart}/cart/convert-to-order -H "X-Customer-Id: $E" -H 'Content-Type: application/json' -d "${PAY/pm_card_visa/pm_card_chargeDeclinedInsufficientFunds}"
sleep 1
curl -s -w '\n' {cart}/cart -H "X-Customer-Id: $E"        # "status":"payment_declined","rejection":{"reason":"card_declined","decline_code":"insufficient_funds"}
curl -s -w '\n' -X POST {cart}/cart/convert-to-order -H "X-Customer-Id: $E" -H 'Content-Type: application/json' -d "$PAY"   # another card: 202, then converted

# What John was told: confirmation, receipt, cancellation and refund, by email and push
sleep 1
curl -s -w '\n' {notification}/notifications -H "X-Customer-Id: $C"             # kind, channel, status sent
curl -s -w '\n' {mail_view}/messages                                         # the emails as the SMTP server got them
curl -s -w '\n' {email_push}/push/$C -H "X-Customer-Id: $C"                   # the push inbox
# Live: leave this open, then check out again in another terminal
#   curl -N {email_push}/push/$C/stream -H "X-Customer-Id: $C"
