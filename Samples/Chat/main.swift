print("placeholder: see the next commits")
